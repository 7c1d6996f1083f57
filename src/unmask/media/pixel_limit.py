"""Hold every picture to ``sampling.max_pixels`` as it is decoded, not as the container header claims.

Three checks, cheapest first: FFmpeg's decoder is told the limit (:func:`limit_decoder`, it then
refuses to allocate a larger picture), a still-picture packet (PNG, JPEG, ... inside a video
container) is read from its own header before decoding (:func:`check_packet`), and a decoded frame
is checked before anything converts it (:func:`check_frame`). Over the limit is ``MediaTooLarge``.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import av
from PIL import Image

from unmask.errors import MediaTooLarge

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


def too_large(p: Path, w: int, h: int, max_pixels: int, where: str = "",
              header: tuple[int, int] | None = None) -> MediaTooLarge:
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
