"""Look at an input file once, before any analysis, and say what it is or why it cannot be scanned.

Checks run cheapest first (path, permissions, size), then the content is
sniffed (never the file name): still and animated images (JPEG, PNG, BMP,
GIF, WebP, TIFF) go through Pillow, which also reads animated WebP that
FFmpeg cannot; everything else through PyAV. The first frame is decoded so a
file that opens but holds no picture is refused here, not halfway through a
scan, and so the rotation a phone stored in the display matrix is known.

``MediaInfo.rotation`` is the clockwise turn a player applies to the stored
picture to show it upright (the legacy ``rotate`` tag's meaning);
``width``/``height`` are the upright, displayed size.
"""

from __future__ import annotations

import hashlib
import os
import stat
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image

from unmask.config import SamplingConfig
from unmask.errors import (
    EmptyInput,
    MediaTooLarge,
    MissingInput,
    NotAFile,
    NoVideoStream,
    UnreadableInput,
    UnsupportedMedia,
)
from unmask.media.containers import (
    UNSUPPORTED,
    container_name,
    display_rotation,
    exif_rotation,
    frame_duration_ms,
    image_is_animated,
    open_container,
    open_image,
    unsupported,
    video_stream,
)
from unmask.media.pixel_limit import check_frame, check_packet, limit_decoder, refused_as_too_large, too_large
from unmask.types import MediaInfo

# FFmpeg opens random bytes and text as "text art" video; that is never a camera picture.
_TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf", "tty"})
_CHUNK = 1 << 20


def probe(path: str | Path, sampling: SamplingConfig) -> MediaInfo:
    """Describe ``path`` or raise the ``InputError`` subclass that says why it cannot be scanned."""
    p = Path(path)
    size = _check_file(p)
    digest = _sha256(p)
    info = _probe_image(p, digest, size, sampling)
    if info is None:
        info = _probe_av(p, digest, size, sampling)
    return info


def _check_file(p: Path) -> int:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise MissingInput(p, "no such file") from None
    except PermissionError:
        raise UnreadableInput(p, "permission denied") from None
    except OSError as e:
        raise UnreadableInput(p, f"cannot read ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise NotAFile(p, "is a directory, not a media file")
    if not stat.S_ISREG(st.st_mode):
        raise NotAFile(p, "is not a regular file (device, pipe or socket)")
    if not os.access(p, os.R_OK):
        raise UnreadableInput(p, "permission denied")
    if st.st_size == 0:
        raise EmptyInput(p, "file is empty (0 bytes)")
    return st.st_size


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(p, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except PermissionError:
        raise UnreadableInput(p, "permission denied") from None
    except OSError as e:
        raise UnreadableInput(p, f"cannot read ({e.strerror or e})") from None
    return h.hexdigest()


def _probe_image(p: Path, digest: str, size: int, sampling: SamplingConfig) -> MediaInfo | None:
    try:
        img = open_image(p)
    except Image.DecompressionBombError:
        raise MediaTooLarge(p, f"image is far beyond the {sampling.max_pixels} pixel limit") from None
    if img is None:
        return None
    with img:
        w, h = img.size
        if w <= 0 or h <= 0:
            raise unsupported(p, "image has no pixels")
        if w * h > sampling.max_pixels:
            raise MediaTooLarge(p, f"frames are {w}x{h}, more than the {sampling.max_pixels} pixel limit")
        animated = image_is_animated(img)
        fmt = str(img.format)
        rotation = 0 if animated else exif_rotation(img)
        try:
            n_frames, duration_ms = _animation_frames(img) if animated else (1, 0.0)
            img.seek(0)
            img.load()  # decode the first frame: a broken file is refused here
        except Exception as e:  # noqa: BLE001 - see open_image
            raise unsupported(p, e) from None
    if rotation in (90, 270):
        w, h = h, w
    duration_s = duration_ms / 1000.0
    container = fmt.lower() if fmt in ("GIF", "WEBP") else "image"
    return MediaInfo(
        path=str(p),
        sha256=digest,
        size_bytes=size,
        container=container,
        kind="animation" if animated else "image",
        video_codec="jpeg" if fmt == "MPO" else fmt.lower(),
        duration_s=duration_s,
        fps=(n_frames / duration_s) if animated and duration_s > 0 else 0.0,
        width=w,
        height=h,
        rotation=rotation,
        n_frames=n_frames,
    )


def _animation_frames(img: Image.Image) -> tuple[int, float]:
    """Frames that can be reached and their total display time in ms, from frame headers.

    A cut-off GIF counts the frames before the break (the reader warns about the rest).
    """
    if img.format == "WEBP":  # Pillow knows a WebP frame's duration only after decoding it
        durations = _webp_durations_ms(img)
        if durations:
            return len(durations), sum(100.0 if d <= 10 else float(d) for d in durations)
    total, n = 0.0, 0
    while True:
        try:
            img.seek(n)
        except Exception:  # noqa: BLE001 - EOFError at the end; anything else is a broken frame
            break
        total += frame_duration_ms(img)
        n += 1
    if n == 0:
        raise UnsupportedMedia(Path(str(getattr(img, "filename", ""))), f"{UNSUPPORTED} (no readable frame)")
    return n, total


def _webp_durations_ms(img: Image.Image) -> list[int]:
    """Frame durations from a WebP file's ANMF chunks (RIFF: fourcc, little-endian size, even padding)."""
    fp = getattr(img, "fp", None) or getattr(img, "_fp", None)
    if fp is None:
        return []
    pos = fp.tell()
    try:
        fp.seek(0)
        data = fp.read()
    finally:
        fp.seek(pos)
    out: list[int] = []
    i = 12
    while i + 8 <= len(data):
        fourcc, size = data[i : i + 4], int.from_bytes(data[i + 4 : i + 8], "little")
        if fourcc == b"ANMF" and i + 8 + 15 <= len(data):
            out.append(int.from_bytes(data[i + 8 + 12 : i + 8 + 15], "little"))
        i += 8 + size + (size & 1)
    return out


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _probe_av(p: Path, digest: str, size: int, sampling: SamplingConfig) -> MediaInfo:
    container = open_container(p, sampling.max_pixels)
    with container:
        vs = video_stream(container)
        audio = list(container.streams.audio)
        if vs is None:
            if audio:
                raise NoVideoStream(p, "has audio but no video stream")
            raise NoVideoStream(p, "has no video stream")
        cc = vs.codec_context
        if cc is None:
            raise unsupported(p, "no decoder for its video codec")  # PyAV: no codec context, nor a codec to name
        codec = str(cc.name)
        if codec in _TEXT_CODECS or container.format.name in _TEXT_CODECS:
            raise unsupported(p, "looks like text, not a picture")
        w, h = int(cc.width or 0), int(cc.height or 0)
        if w * h > sampling.max_pixels:
            raise MediaTooLarge(p, f"frames are {w}x{h}, more than the {sampling.max_pixels} pixel limit")
        limit_decoder(vs, sampling.max_pixels)
        first = _first_frame(p, container, vs, sampling.max_pixels)
        if w <= 0 or h <= 0:
            w, h = first.width, first.height
            if w * h > sampling.max_pixels:
                raise MediaTooLarge(p, f"frames are {w}x{h}, more than the {sampling.max_pixels} pixel limit")
        rotation = display_rotation(first.rotation)
        if rotation == 0 and "rotate" in vs.metadata:
            try:
                rotation = int(round(float(vs.metadata["rotate"]) / 90.0)) % 4 * 90
            except ValueError:
                pass
        fps = _fps(vs)
        duration = _seconds(vs.duration, vs.time_base)
        if not duration and container.duration:
            duration = container.duration / av.time_base
        if not duration and vs.frames and fps:
            duration = vs.frames / fps
        elif container.format.name == "avi" and vs.frames and fps and vs.frames / fps > (duration or 0.0) + 1.0:
            # AVI: the length comes from the index, which a cut-off file lacks; the header's frame count stays
            duration = vs.frames / fps
        duration = max(0.0, float(duration or 0.0))
        n_frames = int(vs.frames) if vs.frames else (int(round(duration * fps)) if fps else None)
        if rotation in (90, 270):
            w, h = h, w
        return MediaInfo(
            path=str(p),
            sha256=digest,
            size_bytes=size,
            container=container_name(container),
            kind="video",
            video_codec=codec,
            duration_s=duration,
            fps=fps,
            width=w,
            height=h,
            rotation=rotation,
            has_audio=bool(audio),
            audio_codec=str(audio[0].codec_context.name) if audio and audio[0].codec_context else None,
            n_frames=n_frames,
        )


def _fps(vs: Any) -> float:
    for rate in (vs.average_rate, vs.guessed_rate, vs.base_rate):
        if rate and 0 < float(rate) < 1000:
            return float(rate)
    return 0.0


def _first_frame(p: Path, container: Any, vs: Any, max_pixels: int, max_packets: int = 300) -> Any:
    """Decode the first picture; a file that yields none within ``max_packets`` is refused.

    Every packet of a still-picture codec is checked against the pixel limit before it is
    decoded, and the decoded picture after: the container header's size is only a claim.
    """
    last_err: BaseException | str = "no picture could be decoded"
    cc = vs.codec_context
    codec = str(cc.name)
    header = (int(cc.width or 0), int(cc.height or 0))
    try:
        for i, packet in enumerate(container.demux(vs)):
            if i >= max_packets:
                break
            check_packet(p, codec, packet, max_pixels, header)
            try:
                frames = packet.decode()
            except (av.error.FFmpegError, ValueError) as e:
                if refused_as_too_large(cc, e, max_pixels):
                    raise too_large(p, int(cc.width or 0), int(cc.height or 0), max_pixels, header=header) from None
                last_err = e
                continue
            if frames:
                check_frame(p, frames[0], max_pixels, header)
                return frames[0]
    except (av.error.FFmpegError, OSError, ValueError) as e:
        last_err = e
    raise unsupported(p, last_err)
