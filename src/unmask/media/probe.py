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
import io
import os
import stat
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image, UnidentifiedImageError

from unmask.config import SamplingConfig
from unmask.errors import (
    EmptyInput,
    MissingInput,
    MediaTooLarge,
    NotAFile,
    NoVideoStream,
    UnreadableInput,
    UnsupportedMedia,
)
from unmask.types import MediaInfo

# Content formats Pillow may claim; anything else is left to FFmpeg.
IMAGE_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF")
# Formats Pillow can hold more than one timed frame in.
_ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")
# FFmpeg opens random bytes and text as "text art" video; that is never a camera picture.
_TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf", "tty"})
_UNSUPPORTED = "not a video or image file we can read"
_CHUNK = 1 << 20
# EXIF orientation tag value -> clockwise degrees to show upright (flips are applied but not reported).
EXIF_ROTATION = {1: 0, 2: 0, 3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}
_EXIF_ORIENTATION_TAG = 0x0112


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


def unsupported(p: Path, err: BaseException | str) -> UnsupportedMedia:
    """The one wording for "we cannot decode this", with FFmpeg's/Pillow's reason trimmed."""
    reason = err if isinstance(err, str) else _reason(err)
    return UnsupportedMedia(p, f"{_UNSUPPORTED} ({reason})")


def _reason(err: BaseException) -> str:
    if isinstance(err, av.error.FFmpegError):
        text = err.strerror or type(err).__name__
    else:
        text = str(err) or type(err).__name__
    text = text.replace(str(getattr(err, "filename", "") or "\0"), "").strip(" :'")
    return text[:120] or type(err).__name__


# -- still and animated images (Pillow) ------------------------------------------------------


def open_image(p: Path) -> Image.Image | None:
    """Pillow's image for ``p`` when its content is an image format we read, else ``None``.

    Raises Pillow's ``DecompressionBombError`` for images far beyond its own pixel limit.
    """
    try:
        return Image.open(p, formats=IMAGE_FORMATS)
    except Image.DecompressionBombError:
        raise
    except UnidentifiedImageError:
        return None
    except Exception:  # noqa: BLE001 - Pillow's parsers raise anything (struct.error, IndexError) on broken headers
        return None


def image_is_animated(img: Image.Image) -> bool:
    """More than one frame in a GIF/WebP/APNG; a broken second frame counts as animated (read what decodes)."""
    if img.format not in _ANIMATED_FORMATS:
        return False
    try:
        return bool(getattr(img, "is_animated", False))
    except Exception:  # noqa: BLE001 - see open_image
        return img.format == "GIF"


def exif_rotation(img: Image.Image) -> int:
    """Clockwise degrees the EXIF orientation asks for (0 when there is none)."""
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block just means "no rotation"
        return 0
    return EXIF_ROTATION.get(int(orientation), 0) if isinstance(orientation, int) else 0


def frame_duration_ms(img: Image.Image) -> float:
    """The current animation frame's display time; browsers show <= 10 ms frames for 100 ms."""
    d = img.info.get("duration")
    try:
        d = float(d)
    except (TypeError, ValueError):
        return 100.0
    return 100.0 if d <= 10.0 else d


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
        raise UnsupportedMedia(Path(str(img.filename)), f"{_UNSUPPORTED} (no readable frame)")
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


# -- video containers (PyAV) -----------------------------------------------------------------


def open_container(p: Path, max_pixels: int = SamplingConfig.max_pixels) -> Any:
    """``av.open`` with FFmpeg's errors turned into ``UnsupportedMedia``.

    Opening already decodes: FFmpeg reads the first pictures to fill in what the header
    leaves out. Every decoder, that one included, is told ``max_pixels``, so a PNG frame of
    16000x16000 behind a 64x64 header is refused there instead of costing 0.8 GB.
    """
    try:
        return av.open(str(p), metadata_errors="replace", options={"max_pixels": str(int(max_pixels))})
    except PermissionError:
        raise UnreadableInput(p, "permission denied") from None
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as e:
        raise unsupported(p, e) from None


#: codecs whose every packet is a whole picture with its size in its own header (a PNG, a JPEG, ...):
#: such a packet can declare 16000x16000 under a container header that says 64x64
IMAGE_CODECS = frozenset({"png", "apng", "mjpeg", "jpegls", "ljpeg", "bmp", "tiff", "webp", "gif", "jpeg2000",
                          "qoi", "ppm", "pgm", "pgmyuv", "pam", "pbm", "sgi", "targa", "dds", "pcx", "sunrast",
                          "xbm", "xwd", "jpegxl", "photocd", "hdr", "exr"})
_PACKET_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF", "JPEG2000")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BEYOND_PILLOW = (1 << 31, 1 << 31)  # size stand-in for a picture past Pillow's own bomb limit


def limit_decoder(vs: Any, max_pixels: int) -> None:
    """Make FFmpeg's decoder refuse pictures over ``max_pixels`` before it allocates them.

    The container header's size means nothing to a decoder: every PNG packet of an MKV brings
    its own. FFmpeg checks ``max_pixels`` when it allocates a picture, so a 16000x16000 frame
    fails to decode instead of costing 0.8 GB.
    """
    cc = vs.codec_context
    if cc is not None:
        cc.options = {**dict(cc.options or {}), "max_pixels": str(int(max_pixels))}


def packet_picture_size(codec: str, packet: Any) -> tuple[int, int] | None:
    """The size a still-picture codec's packet declares in its own header (read, not decoded), or None."""
    if codec not in IMAGE_CODECS:
        return None
    data = bytes(packet)
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) >= 24:
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return w, h
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=_PACKET_FORMATS) as img:
                return img.size
    except Image.DecompressionBombError:
        return _BEYOND_PILLOW
    except Exception:  # noqa: BLE001 - not a header Pillow knows: the decoder's own limit still holds
        return None


def too_large(p: Path, w: int, h: int, max_pixels: int, where: str = "", header: tuple[int, int] | None = None) -> MediaTooLarge:
    """The one wording for a picture over the pixel limit (``where``: "at 3.2 s"; ``header``: what the container
    claimed; a size of 0x0: the decoder refused it without saying how large)."""
    if w * h == 0:
        at = f" {where}" if where else ""
        return MediaTooLarge(p, f"a picture{at} is larger than the {max_pixels} pixel limit (the decoder refused it)")
    size = "far beyond Pillow's own limit" if (w, h) == _BEYOND_PILLOW else f"{w}x{h}"
    claimed = f" (its header says {header[0]}x{header[1]})" if header and header != (w, h) and all(header) else ""
    at = f" {where}" if where else ""
    return MediaTooLarge(p, f"a picture{at} is {size}, more than the {max_pixels} pixel limit{claimed}")


def check_packet(p: Path, codec: str, packet: Any, max_pixels: int, header: tuple[int, int] | None = None,
                 where: str = "") -> None:
    """Refuse a still-picture packet whose own header declares more than ``max_pixels``, before decoding it."""
    size = packet_picture_size(codec, packet)
    if size is not None and size[0] * size[1] > max_pixels:
        raise too_large(p, size[0], size[1], max_pixels, where, header)


def refused_as_too_large(cc: Any, err: BaseException, max_pixels: int) -> bool:
    """Whether a failed decode was FFmpeg refusing a picture over ``max_pixels`` (see :func:`limit_decoder`).

    The decoder then reports EINVAL and forgets the size it refused (it sets it to 0x0); a
    damaged packet is "invalid data" instead and leaves the size alone. A size over the limit
    that the decoder did keep is a refusal too.
    """
    w, h = int(cc.width or 0), int(cc.height or 0)
    return w * h > max_pixels or (isinstance(err, av.error.ArgumentError) and w * h == 0)


def check_frame(p: Path, frame: Any, max_pixels: int, header: tuple[int, int] | None = None, where: str = "") -> None:
    """Refuse a decoded picture over ``max_pixels`` before anything converts or copies it."""
    if frame.width * frame.height > max_pixels:
        raise too_large(p, frame.width, frame.height, max_pixels, where, header)


def video_stream(container: Any) -> Any | None:
    """The first real video stream, skipping cover art (an ``attached_pic`` in audio files)."""
    for s in container.streams.video:
        if not s.disposition & av.stream.Disposition.attached_pic:
            return s
    return None


def display_rotation(av_rotation: float) -> int:
    """PyAV's counter-clockwise display-matrix angle -> clockwise 0/90/180/270."""
    return int(round(-float(av_rotation) / 90.0)) % 4 * 90


def container_name(container: Any) -> str:
    """A short container name; FFmpeg calls MP4 and MOV alike, the brand tells them apart."""
    name = str(container.format.name)
    if name.startswith("mov,mp4"):
        brand = str(container.metadata.get("major_brand", "")).strip().lower()
        if brand == "qt":
            return "mov"
        if brand.startswith("3g"):
            return "3gp"
        return "mp4"
    return name


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
