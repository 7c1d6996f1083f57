"""Open a file as what its content is (never its name): an image through Pillow, anything else through PyAV.

The helpers here only open and name things; :mod:`unmask.media.probe` decides whether a file can be
scanned, :mod:`unmask.media.decode` reads its pictures. ``unsupported`` is the one wording for
"we cannot decode this", shared by all three.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
from PIL import Image, UnidentifiedImageError

from unmask.config import SamplingConfig
from unmask.errors import UnreadableInput, UnsupportedMedia

# Content formats Pillow may claim; anything else is left to FFmpeg.
IMAGE_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "WEBP", "TIFF")
# Formats Pillow can hold more than one timed frame in.
_ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")
UNSUPPORTED = "not a video or image file we can read"
# EXIF orientation tag value -> clockwise degrees to show upright (flips are applied but not reported).
EXIF_ROTATION = {1: 0, 2: 0, 3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}
_EXIF_ORIENTATION_TAG = 0x0112


def unsupported(p: Path, err: BaseException | str) -> UnsupportedMedia:
    """The one wording for "we cannot decode this", with FFmpeg's/Pillow's reason trimmed."""
    reason = err if isinstance(err, str) else _reason(err)
    return UnsupportedMedia(p, f"{UNSUPPORTED} ({reason})")


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
    raw: Any = img.info.get("duration")
    try:
        d = float(raw)
    except (TypeError, ValueError):
        return 100.0
    return 100.0 if d <= 10.0 else d


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
