"""Synthetic clips for the demo and the tests, built from a face image shipped in scikit-image.

Nothing here is a fake-maker: it only moves a real photo (the public-domain
NASA ``astronaut`` portrait) around a frame with a gentle camera drift, so a
fresh machine has a clip with a face to scan. The last section makes damaged
and hostile files (cut off, overwritten, decompression bombs) for the tests
and the fuzzer's seed corpus.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image


def astronaut() -> npt.NDArray[np.uint8]:
    """The 512x512 RGB astronaut portrait (public domain, NASA) from scikit-image."""
    from skimage import data

    pixels = data.astronaut()  # type: ignore[no-untyped-call]  # scikit-image's loaders are unannotated
    return np.ascontiguousarray(pixels, dtype=np.uint8)


def face_frames(
    n: int,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    face: npt.NDArray[np.uint8] | None = None,
) -> list[npt.NDArray[np.uint8]]:
    """``n`` RGB frames of a portrait drifting slowly with a little sensor noise."""
    return list(iter_face_frames(n, size, seed, face))


def iter_face_frames(
    n: int,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    face: npt.NDArray[np.uint8] | None = None,
) -> Iterator[npt.NDArray[np.uint8]]:
    """The frames of :func:`face_frames` one at a time, so long clips need one frame of memory."""
    w, h = size
    src = astronaut() if face is None else face
    rng = np.random.default_rng(seed)
    scale = 0.9 * min(w, h) / src.shape[0]
    for i in range(n):
        phase = 2 * np.pi * i / max(n, 30)
        dx = 0.04 * w * np.sin(phase)
        dy = 0.03 * h * np.sin(0.7 * phase)
        s = scale * (1.0 + 0.03 * np.sin(0.5 * phase))
        m = np.array([[s, 0, (w - s * src.shape[1]) / 2 + dx], [0, s, (h - s * src.shape[0]) / 2 + dy]], np.float32)
        img = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        noise = rng.normal(0, 2.0, img.shape)
        yield np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def write_video(
    path: str | Path,
    frames: Iterable[npt.NDArray[np.uint8]],
    fps: float = 25.0,
    codec: str = "libx264",
    rotation: int = 0,
    pts_s: list[float] | None = None,
    audio_hz: float | None = None,
    pix_fmt: str | None = None,
    faststart: bool = False,
    gop: int | None = None,
) -> Path:
    """Encode RGB frames with PyAV. ``pts_s`` gives variable timestamps.

    ``rotation`` (clockwise degrees a player turns the stored picture, like a
    phone's portrait video) is written as a display matrix: PyAV 18 ignores
    ``metadata["rotate"]`` but ``VideoStream.set_display_rotation`` (counter-clockwise
    degrees) works for MP4/MOV. ``faststart`` puts the index first (MP4/MOV),
    so a cut-off copy still opens; ``gop`` sets the keyframe interval.
    Sizes are cropped to even numbers for 4:2:0 pixel formats.
    """
    path = Path(path)
    frames = iter(frames)
    first = next(frames)
    frames = itertools.chain([first], frames)
    h, w = first.shape[:2]
    n_frames = 0
    fmt = pix_fmt or ("rgb8" if codec == "gif" else "yuv420p")
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        rate = Fraction(fps).limit_denominator(1000)
        # VFR: no B-frames, so decode order = display order and MP4 sample durations follow the timestamps
        st = out.add_stream(codec, rate=rate, options={"bf": "0"} if pts_s is not None else None)
        if not isinstance(st, av.VideoStream):
            raise ValueError(f"{codec} is not a video codec")
        even = fmt.startswith(("yuv420", "yuvj420", "nv12"))
        st.width, st.height = (w - w % 2, h - h % 2) if even else (w, h)
        st.pix_fmt = fmt
        if gop is not None:
            st.gop_size = gop
        if rotation % 360:
            st.set_display_rotation(-(rotation % 360))
        tb = Fraction(1, 1000) if pts_s is not None else None
        if tb is not None:
            st.time_base = tb
            st.codec_context.time_base = tb
        a_st = None
        if audio_hz is not None:
            a_st = _audio_stream(out, "aac", 16000)
        for i, rgb in enumerate(frames):
            n_frames += 1
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: st.height, : st.width]), format="rgb24")
            if pts_s is not None:
                vf.pts = int(round(pts_s[i] * 1000))
                vf.time_base = tb
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
        if a_st is not None and audio_hz is not None:
            _encode_tone(out, a_st, n_frames / fps, audio_hz)
    return path


def _audio_stream(out: av.container.OutputContainer, codec: str, rate: int) -> av.AudioStream:
    """A mono audio stream of ``codec`` at ``rate`` Hz."""
    a_st = out.add_stream(codec, rate=rate)
    if not isinstance(a_st, av.AudioStream):
        raise ValueError(f"{codec} is not an audio codec")
    a_st.layout = "mono"
    return a_st


def _encode_tone(out: av.container.OutputContainer, a_st: av.AudioStream, seconds: float, hz: float) -> None:
    n = int(16000 * seconds)
    tt = np.arange(n) / 16000
    samples = (0.2 * np.sin(2 * np.pi * hz * tt)).astype(np.float32)[None, :]
    for start in range(0, n, 1024):
        chunk = np.ascontiguousarray(samples[:, start : start + 1024])
        af = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
        af.sample_rate = 16000
        af.pts = start
        for pkt in a_st.encode(af):
            out.mux(pkt)
    for pkt in a_st.encode():
        out.mux(pkt)


def write_dub(video: str | Path, samples: npt.ArrayLike, path: str | Path, rate: int = 16000) -> Path:
    """``video``'s pictures (copied, not re-encoded) with ``samples`` (mono float32) as its only sound, as AAC:
    another voice laid over a video, for tests and benchmarks of the voice check."""
    path = Path(path)
    with av.open(str(video)) as src, av.open(str(path), "w") as out:
        vin = src.streams.video[0]
        vout = out.add_stream_from_template(vin)
        a_st = _audio_stream(out, "aac", rate)
        for pkt in src.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            out.mux(pkt)
        x = np.ascontiguousarray(samples, dtype=np.float32)[None, :]
        for start in range(0, x.shape[1], 1024):
            chunk = np.ascontiguousarray(x[:, start:start + 1024])
            af = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            af.sample_rate = rate
            af.pts = start
            for p in a_st.encode(af):
                out.mux(p)
        for p in a_st.encode():
            out.mux(p)
    return path


def write_audio(path: str | Path, seconds: float = 2.0, hz: float = 440.0, codec: str = "aac") -> Path:
    """An audio-only file (e.g. ``.m4a``): a sine tone, no picture."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        _encode_tone(out, _audio_stream(out, codec, 16000), seconds, hz)
    return path


def write_animation(
    path: str | Path,
    frames: list[npt.NDArray[np.uint8]],
    durations_ms: list[int] | int = 100,
    format: str | None = None,
) -> Path:
    """An animated GIF or WebP with Pillow (PyAV cannot write animated WebP).

    ``format`` ("GIF"/"WEBP") overrides the file suffix, e.g. to write a GIF named ``.webp``.
    """
    path = Path(path)
    imgs = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    fmt = (format or path.suffix.lstrip(".")).upper()
    extra = {"lossless": False, "quality": 80} if fmt == "WEBP" else {}
    imgs[0].save(path, format=fmt, save_all=True, append_images=imgs[1:], duration=durations_ms, loop=0, **extra)
    return path


def write_gif(path: str | Path, frames: list[npt.NDArray[np.uint8]], durations_ms: list[int] | int = 100) -> Path:
    """An animated GIF (whatever the suffix)."""
    return write_animation(path, frames, durations_ms, format="GIF")


def write_webp(path: str | Path, frames: list[npt.NDArray[np.uint8]], durations_ms: list[int] | int = 100) -> Path:
    """An animated WebP (whatever the suffix)."""
    return write_animation(path, frames, durations_ms, format="WEBP")


def write_image(path: str | Path, rgb: npt.NDArray[np.uint8], format: str | None = None,
                exif_orientation: int | None = None) -> Path:
    """A still image (format from the suffix unless given); ``exif_orientation`` 1..8 tags JPEG/WebP/PNG."""
    path = Path(path)
    img = Image.fromarray(np.ascontiguousarray(rgb))
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = int(exif_orientation)
        kwargs["exif"] = exif.tobytes()
    img.save(path, format=format, **kwargs)
    return path


def write_face_clip(path: str | Path, seconds: float = 6.0, fps: float = 25.0, size: tuple[int, int] = (640, 480),
                    seed: int = 0) -> Path:
    """A clip of the astronaut portrait drifting in frame: the demo's default input."""
    return write_video(path, iter_face_frames(int(round(seconds * fps)), size=size, seed=seed), fps=fps)


def write_long_clip(path: str | Path, seconds: float, fps: float = 30.0, size: tuple[int, int] = (1920, 1080),
                    loop_s: float = 10.0, seed: int = 0) -> Path:
    """A long clip made cheaply, for speed and memory checks: ``loop_s`` of the drifting portrait is
    encoded once (H.264, closed GOPs, no B-frames) and its packets are muxed again and again, so an
    hour of 720p takes seconds to write yet decodes like any hour of H.264."""
    path = Path(path)
    n_loop = max(1, int(round(min(loop_s, seconds) * fps)))
    reps = max(1, math.ceil(seconds * fps / n_loop))
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000), options={"bf": "0"})
        if not isinstance(st, av.VideoStream):
            raise ValueError("libx264 is not a video codec")
        w, h = size
        st.width, st.height, st.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        packets = []
        for rgb in iter_face_frames(n_loop, size=size, seed=seed):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: st.height, : st.width]), format="rgb24")
            packets += [(bytes(pk), pk.pts, pk.dts, pk.duration, pk.is_keyframe, pk.time_base) for pk in st.encode(vf)]
        packets += [(bytes(pk), pk.pts, pk.dts, pk.duration, pk.is_keyframe, pk.time_base) for pk in st.encode()]
        tb = packets[0][5]
        step = int(round(n_loop / fps / tb))  # one loop in stream ticks
        left = int(round(seconds * fps))
        for k in range(reps):
            for data, pts, dts, duration, key, _ in packets:
                if left <= 0:
                    break
                if pts is None or dts is None:
                    raise ValueError("libx264 gave a packet without timestamps")
                pk = av.Packet(data)
                pk.pts, pk.dts = pts + k * step, dts + k * step
                pk.duration, pk.is_keyframe, pk.time_base, pk.stream = duration, key, tb, st
                out.mux(pk)
                left -= 1
    return path


# -- damaged and hostile inputs (tests, ``make fuzz`` seeds) --------------------------------------
# Files a careless or hostile sender could hand unmask: cut off, overwritten in the middle, or a
# container whose header promises a small picture while every packet holds a huge one.


def truncate(src: str | Path, dst: str | Path, keep: float) -> Path:
    """The first ``keep`` (0..1) of ``src``'s bytes, as a download or copy cut off early leaves it."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return Path(dst)


def corrupt(src: str | Path, dst: str | Path, start: float = 0.4, end: float = 0.6, seed: int = 0) -> Path:
    """``src`` with the bytes from ``start`` to ``end`` (fractions of its length) overwritten with noise."""
    data = bytearray(Path(src).read_bytes())
    a, b = int(len(data) * start), int(len(data) * end)
    data[a:b] = np.random.default_rng(seed).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def black_png(width: int, height: int) -> bytes:
    """A black RGB PNG of any size, built without ever holding its pixels (16000x16000 in ~0.3 s, 0.75 MB).

    Rows of zeros are deflated block by block with full flushes, so every block after the
    first compresses to the same bytes and is repeated; the zlib checksum of n zero bytes
    is ``(n mod 65521) << 16 | 1``.
    """
    row = 1 + 3 * width  # filter byte + RGB
    rows_per = max(1, min(height, (16 << 20) // row))
    while height % rows_per:
        rows_per -= 1
    block = b"\0" * (rows_per * row)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    body = first
    if height // rows_per > 1:
        again = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
        body += again * (height // rows_per - 1)
    body += co.flush()
    adler = ((height * row) % 65521) << 16 | 1
    idat = b"\x78\xda" + body + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _ebml(element_id: int, payload: bytes) -> bytes:
    """One EBML element with an 8-byte size field."""
    size = b"\x01" + len(payload).to_bytes(7, "big")  # an 8-byte EBML size
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + size + payload


def _ebml_uint(element_id: int, value: int) -> bytes:
    return _ebml(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def write_mkv_packets(path: str | Path, packets: list[bytes], width: int, height: int, fourcc: bytes = b"MPNG",
                      frame_ms: int = 40) -> Path:
    """A Matroska file whose one video track (``V_MS/VFW/FOURCC``) claims ``width``x``height`` and holds ``packets``.

    PyAV refuses to mux PNG into Matroska, so this writes the few elements FFmpeg needs by hand
    (EBML header, Info with a duration, one TrackEntry, one Cluster of key-frame SimpleBlocks).
    """
    header = _ebml(0x1A45DFA3, _ebml_uint(0x4286, 1) + _ebml_uint(0x42F7, 1) + _ebml_uint(0x42F2, 4)
                   + _ebml_uint(0x42F3, 8) + _ebml(0x4282, b"matroska") + _ebml_uint(0x4287, 4) + _ebml_uint(0x4285, 2))
    info = _ebml(0x1549A966, _ebml_uint(0x2AD7B1, 1_000_000) + _ebml(0x4D80, b"unmask.synth")
                 + _ebml(0x5741, b"unmask.synth") + _ebml(0x4489, struct.pack(">d", float(len(packets) * frame_ms))))
    bitmap_info = struct.pack("<IiiHH4sIiiII", 40, width, height, 1, 24, fourcc, 0, 0, 0, 0, 0)
    video = _ebml(0xE0, _ebml_uint(0xB0, width) + _ebml_uint(0xBA, height))
    track = _ebml(0xAE, _ebml_uint(0xD7, 1) + _ebml_uint(0x73C5, 1) + _ebml_uint(0x83, 1)
                  + _ebml(0x86, b"V_MS/VFW/FOURCC") + _ebml(0x63A2, bitmap_info) + video)
    blocks = b"".join(_ebml(0xA3, b"\x81" + struct.pack(">hB", i * frame_ms, 0x80) + p) for i, p in enumerate(packets))
    segment = _ebml(0x18538067, info + _ebml(0x1654AE6B, track) + _ebml(0x1F43B675, _ebml_uint(0xE7, 0) + blocks))
    path = Path(path)
    path.write_bytes(header + segment)
    return path


def write_png_bomb(path: str | Path, side: int = 16000, header: tuple[int, int] = (64, 64), frames: int = 3,
                   small_first: bool = False) -> Path:
    """A decompression bomb: a video whose header says ``header`` but whose PNG frames are ``side`` x ``side``.

    ~0.75 MB per 16000x16000 frame on disk, 0.77 GB once decoded. ``small_first``: the first frame
    is as small as the header says, so only decoding past it finds the bomb. ``.mkv`` is written by
    hand (:func:`write_mkv_packets`); other suffixes (``.avi``, ``.mov``, ``.nut``) through PyAV.
    """
    big = black_png(side, side)
    packets = [black_png(*header) if small_first and i == 0 else big for i in range(frames)]
    path = Path(path)
    if path.suffix.lower() == ".mkv":
        return write_mkv_packets(path, packets, *header)
    with av.open(str(path), "w") as out:
        st = out.add_mux_stream("png", rate=25, width=header[0], height=header[1])
        st.time_base = Fraction(1, 25)
        for i, data in enumerate(packets):
            pkt = av.Packet(data)
            pkt.stream, pkt.pts, pkt.dts, pkt.time_base = st, i, i, Fraction(1, 25)
            out.mux(pkt)
    return path
