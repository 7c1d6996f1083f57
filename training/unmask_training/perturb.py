"""Degraded copies of a video, for measuring robustness the way footage degrades on social media.

``unmask-train bench-perturbed crf30 MANIFEST`` scans re-encoded copies instead of the originals:
``crfNN`` re-encodes with H.264 at that constant rate factor (23 ≈ platform
default, 35 ≈ heavy), ``360p`` downscales to 360 pixels high, ``flip`` mirrors
left-right, ``phone`` is a phone upload chain (scaled to fit 1024x576, H.264 CRF 28), ``beauty``
the same chain after a phone beauty mode (skin-coloured pixels smoothed by a bilateral filter and
brightened): real footage that a talking-head detector must not take for a frozen photo.
Copies are made with PyAV in a temporary folder; stills and
animations are copied through the same transform.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from unmask.errors import ConfigError, UnsupportedMedia

PERTURBATIONS = ("crf23", "crf30", "crf35", "360p", "flip", "phone", "beauty")
DEFAULT_CRF = 18  # near-transparent re-encode for the size/flip perturbations
#: a phone upload: the frame scaled to fit 1024 x 576 (either orientation), then H.264 at CRF 28
PHONE_LONG, PHONE_SHORT, PHONE_CRF = 1024, 576, 28
#: a beauty mode: bilateral smoothing (diameter, colour sigma) blended in on skin-coloured pixels by BEAUTY_MIX
BEAUTY_D, BEAUTY_SIGMA, BEAUTY_MIX, BEAUTY_LIFT = 9, 60.0, 0.8, 1.06


def parse_perturbation(kind: str) -> tuple[int, int | None, bool]:
    """(crf, target height or None, mirror); a height of 0 means the phone chain's fit-into-1024x576
    (``beauty`` is that chain too; :func:`perturb_video` adds the smoothing)."""
    m = re.fullmatch(r"crf(\d{1,2})", kind)
    if m:
        return int(m.group(1)), None, False
    if kind == "360p":
        return DEFAULT_CRF, 360, False
    if kind == "flip":
        return DEFAULT_CRF, None, True
    if kind in ("phone", "beauty"):
        return PHONE_CRF, 0, False
    raise ConfigError(f"unknown perturbation {kind!r}; known: {', '.join(PERTURBATIONS)}")


def _frames_pillow(src: Path) -> tuple[Iterator[np.ndarray], Fraction]:
    """Animated GIF/WebP through Pillow (PyAV cannot decode animated WebP)."""
    from PIL import Image, ImageSequence

    img = Image.open(src)
    ms = float(img.info.get("duration") or 100) or 100.0
    frames = (np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(img))
    return frames, Fraction(1000, int(max(ms, 10)))


def _frames_av(src: Path) -> tuple[Iterator[np.ndarray], Fraction]:
    inp = av.open(str(src))
    ist = inp.streams.video[0]

    def gen() -> Iterator[np.ndarray]:
        with inp:
            for frame in inp.decode(ist):
                rgb = frame.to_ndarray(format="rgb24")
                if frame.rotation:
                    rgb = np.ascontiguousarray(np.rot90(rgb, k=int(frame.rotation) // 90))
                yield rgb

    return gen(), ist.average_rate or Fraction(25, 1)


def _fit(rgb: np.ndarray, long_side: int, short_side: int) -> np.ndarray:
    """Scale down (never up) so the frame fits long_side x short_side in its own orientation."""
    h, w = rgb.shape[:2]
    f = min(1.0, long_side / max(h, w), short_side / min(h, w))
    if f >= 1.0:
        return rgb
    return cv2.resize(rgb, (max(2, int(round(w * f))), max(2, int(round(h * f)))), interpolation=cv2.INTER_AREA)


def beauty_filter(rgb: np.ndarray) -> np.ndarray:
    """A phone beauty mode: skin-coloured pixels (YCrCb box) smoothed edge-preservingly and lifted a little."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    skin = cv2.inRange(ycc, (40, 133, 77), (255, 173, 127)).astype(np.float32) / 255.0
    mask = cv2.GaussianBlur(skin, (0, 0), 3.0)[..., None] * BEAUTY_MIX
    smooth = cv2.bilateralFilter(rgb, BEAUTY_D, BEAUTY_SIGMA, BEAUTY_D / 2.0).astype(np.float32) * BEAUTY_LIFT
    return np.clip(mask * smooth + (1.0 - mask) * rgb.astype(np.float32), 0, 255).astype(np.uint8)


def perturb_video(src: Path, kind: str, out_dir: Path) -> Path:
    """Write a degraded copy of ``src`` (video or animation) into ``out_dir`` as H.264 MP4 and return its path."""
    crf, height, mirror = parse_perturbation(kind)
    out = out_dir / f"{src.stem}.{kind}.mp4"
    try:
        with open(src, "rb") as fh:
            head = fh.read(12)
        animated_image = head[:6] in (b"GIF87a", b"GIF89a") or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        frames, rate = _frames_pillow(src) if animated_image else _frames_av(src)
        with av.open(str(out), "w") as dst:
            ost = None
            for rgb in frames:
                if height == 0:
                    rgb = _fit(rgb, PHONE_LONG, PHONE_SHORT)
                    if kind == "beauty":
                        rgb = beauty_filter(rgb)
                elif height is not None and rgb.shape[0] > height:
                    w = int(round(rgb.shape[1] * height / rgb.shape[0]))
                    rgb = cv2.resize(rgb, (w, height), interpolation=cv2.INTER_AREA)
                if mirror:
                    rgb = np.ascontiguousarray(rgb[:, ::-1])
                h, w = rgb.shape[0] - rgb.shape[0] % 2, rgb.shape[1] - rgb.shape[1] % 2
                if ost is None:
                    ost = dst.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast"})
                    ost.width, ost.height, ost.pix_fmt = w, h, "yuv420p"
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
                for pkt in ost.encode(vf):
                    dst.mux(pkt)
            if ost is None:
                raise UnsupportedMedia(src, "no frame to perturb")
            for pkt in ost.encode():
                dst.mux(pkt)
    except (av.FFmpegError, IndexError, OSError) as e:
        raise UnsupportedMedia(src, f"cannot re-encode for perturbation {kind} ({e})") from None
    return out
