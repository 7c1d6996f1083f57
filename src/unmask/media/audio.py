"""The audio track, decoded and resampled by PyAV, on the video's clock.

Lip-sync checks compare the mouth with the voice, so the two must share one
clock: the scan counts video time from the first decoded video frame, and
:func:`read_audio` returns samples whose ``start_s`` is on that same clock
(an MP4 whose picture starts 0.85 s after its sound gets ``start_s = -0.85``).
PyAV decodes and resamples (10 s of AAC to 16 kHz mono in ~0.05 s); nothing
else reads the file, so no second decoder (librosa/audioread, ffmpeg on the
path) is involved. A file without sound gives ``None``; sound that breaks
halfway is kept up to the break, with a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from unmask.errors import UnsupportedMedia
from unmask.media.containers import open_container, video_stream

#: mono, 16 kHz: enough for the speech band (up to 8 kHz) and cheap to filter
DEFAULT_RATE = 16000
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError, MemoryError, RuntimeError)
_MAX_BAD_PACKETS = 25


@dataclass(frozen=True)
class AudioTrack:
    """Mono float32 samples in [-1, 1] at ``rate`` Hz; ``samples[0]`` plays at ``start_s`` on the video clock."""

    samples: npt.NDArray[np.float32]
    rate: int
    start_s: float
    codec: str
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype != np.float32:
            raise ValueError(f"AudioTrack: samples must be 1-D float32, got {self.samples.shape} {self.samples.dtype}")
        if self.rate <= 0:
            raise ValueError(f"AudioTrack: rate must be positive, got {self.rate}")

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def _first_video_time(container: av.container.InputContainer) -> float | None:
    """Presentation time of the first decodable video frame (the scan's t = 0), or None without video."""
    vs = video_stream(container)
    if vs is None:
        return None
    try:
        for packet in container.demux(vs):
            try:
                frames = packet.decode()
            except _AV_ERRORS:
                continue
            for frame in frames:
                if frame.time is not None:
                    return float(frame.time)
                return 0.0
    except _AV_ERRORS:
        return None
    return None


def read_audio(path: str | Path, rate: int = DEFAULT_RATE, start_s: float = 0.0,
               end_s: float | None = None) -> AudioTrack | None:
    """The first audio stream of ``path`` as mono ``rate`` Hz samples, or None when there is none.

    ``start_s``/``end_s`` (video clock) bound what is decoded: a long video read in bursts
    needs the sound of each burst, not of the whole hour. Raises
    :class:`~unmask.errors.InputError` (``UnsupportedMedia``, ...) when the file cannot be opened.
    """
    p = Path(path)
    with open_container(p) as container:
        if not container.streams.audio:
            return None
        video_t0 = _first_video_time(container) or 0.0
    # a fresh open for the audio pass: demuxing one stream after another on one container is fragile
    with open_container(p) as container:
        stream = container.streams.audio[0]
        if stream.codec_context is None:  # FFmpeg has no decoder for it (found by `make fuzz`)
            raise UnsupportedMedia(p, "no decoder for its audio codec")
        codec = str(stream.codec_context.name)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[npt.NDArray[np.float32]] = []
        first_t: float | None = None  # video-clock time of the first kept sample
        n = 0
        bad = 0
        warnings: list[str] = []
        want_from = max(0.0, start_s)
        if want_from > 1.0 and stream.time_base is not None:
            try:
                container.seek(int((want_from + video_t0 - 1.0) / stream.time_base), stream=stream, backward=True)
            except _AV_ERRORS:
                container.seek(0)
        t_next: float | None = None  # video-clock time of the next resampled sample

        def take(frames: list[av.AudioFrame]) -> None:
            nonlocal n, first_t, t_next
            for f in frames:
                a = f.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                if t_next is None:
                    return
                t_a = t_next
                t_next += len(a) / rate
                if t_a + len(a) / rate <= want_from:
                    continue
                if t_a < want_from:
                    cut = int(round((want_from - t_a) * rate))
                    a, t_a = a[cut:], t_a + cut / rate
                if first_t is None:
                    first_t = t_a
                chunks.append(a)
                n += len(a)

        done = False
        try:
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except _AV_ERRORS as e:
                    bad += 1
                    if bad > _MAX_BAD_PACKETS:
                        at = want_from + n / rate
                        warnings.append(f"audio decoding stopped at {at:.1f} s: too many damaged packets ({e})")
                        break
                    continue
                for frame in decoded:
                    if t_next is None:
                        t_next = (float(frame.time) if frame.time is not None else 0.0) - video_t0
                    take(resampler.resample(frame))
                    if end_s is not None and first_t is not None and first_t + n / rate >= end_s:
                        done = True
                        break
                if done:
                    break
            else:
                take(resampler.resample(None))  # flush the resampler's tail
        except _AV_ERRORS as e:
            warnings.append(f"audio decoding stopped at {want_from + n / rate:.1f} s: {e}")
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    start = first_t if first_t is not None else want_from
    if end_s is not None:
        samples = samples[: max(0, int(round((end_s - start) * rate)))]
    np.clip(samples, -1.0, 1.0, out=samples)
    if not math.isfinite(start):
        start = 0.0
    return AudioTrack(np.ascontiguousarray(samples), rate, float(start), codec, tuple(warnings))


__all__ = ["AudioTrack", "DEFAULT_RATE", "read_audio"]
