"""Synthetic clips for the demo and the tests, built from a face image shipped in scikit-image.

Nothing here is a fake-maker: it only moves a real photo (the public-domain
NASA ``astronaut`` portrait) around a frame with a gentle camera drift, so a
fresh machine has a clip with a face to scan.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def astronaut() -> np.ndarray:
    """The 512x512 RGB astronaut portrait (public domain, NASA) from scikit-image."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def face_frames(
    n: int,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    face: np.ndarray | None = None,
) -> list[np.ndarray]:
    """``n`` RGB frames of a portrait drifting slowly with a little sensor noise."""
    w, h = size
    src = astronaut() if face is None else face
    rng = np.random.default_rng(seed)
    scale = 0.9 * min(w, h) / src.shape[0]
    frames = []
    for i in range(n):
        phase = 2 * np.pi * i / max(n, 30)
        dx = 0.04 * w * np.sin(phase)
        dy = 0.03 * h * np.sin(0.7 * phase)
        s = scale * (1.0 + 0.03 * np.sin(0.5 * phase))
        m = np.array([[s, 0, (w - s * src.shape[1]) / 2 + dx], [0, s, (h - s * src.shape[0]) / 2 + dy]], np.float32)
        img = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        noise = rng.normal(0, 2.0, img.shape)
        frames.append(np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8))
    return frames


def write_video(
    path: str | Path,
    frames: list[np.ndarray],
    fps: float = 25.0,
    codec: str = "libx264",
    rotation: int = 0,
    pts_s: list[float] | None = None,
    audio_hz: float | None = None,
) -> Path:
    """Encode RGB frames with PyAV. ``pts_s`` gives variable timestamps; ``rotation`` sets display-matrix metadata."""
    path = Path(path)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        rate = Fraction(fps).limit_denominator(1000)
        st = out.add_stream(codec, rate=rate)
        st.width, st.height = w - w % 2, h - h % 2
        st.pix_fmt = "yuv420p" if codec not in ("gif",) else "rgb8"
        tb = Fraction(1, 1000) if pts_s is not None else None
        if tb is not None:
            st.time_base = tb
            st.codec_context.time_base = tb
        a_st = None
        if audio_hz is not None:
            a_st = out.add_stream("aac", rate=16000)
            a_st.layout = "mono"
        for i, rgb in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: st.height, : st.width]), format="rgb24")
            if pts_s is not None:
                vf.pts = int(round(pts_s[i] * 1000))
                vf.time_base = tb
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
        if a_st is not None:
            n = int(16000 * len(frames) / fps)
            tt = np.arange(n) / 16000
            samples = (0.2 * np.sin(2 * np.pi * audio_hz * tt)).astype(np.float32)[None, :]
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="flt", layout="mono")
                af.sample_rate = 16000
                af.pts = start
                for pkt in a_st.encode(af):
                    out.mux(pkt)
            for pkt in a_st.encode():
                out.mux(pkt)
    if rotation:
        _set_rotation(path, rotation)
    return path


def _set_rotation(path: Path, rotation: int) -> None:
    """Rewrite the file with a display-matrix rotation (how phones store portrait video)."""
    tmp = path.with_suffix(".rot" + path.suffix)
    with av.open(str(path)) as src, av.open(str(tmp), "w") as dst:
        ist = src.streams.video[0]
        ost = dst.add_stream_from_template(ist)
        ost.metadata["rotate"] = str(rotation)
        for pkt in src.demux(ist):
            if pkt.dts is None:
                continue
            pkt.stream = ost
            dst.mux(pkt)
    tmp.replace(path)


def write_face_clip(path: str | Path, seconds: float = 6.0, fps: float = 25.0, size: tuple[int, int] = (640, 480), seed: int = 0) -> Path:
    """A clip of the astronaut portrait drifting in frame: the demo's default input."""
    frames = face_frames(int(round(seconds * fps)), size=size, seed=seed)
    return write_video(path, frames, fps=fps)
