"""Stream sampled, upright RGB frames out of a probed file, and cheap stats for every decoded frame.

Memory stays bounded whatever the length: frames are decoded one at a time
and only the sampled ones are converted to RGB and handed out. Videos up to
``sampling.full_decode_max_s`` are read whole (the sampling the fusion model
was calibrated on). Longer ones are read as evenly spaced bursts of
``burst_s`` over the whole duration: at least one every ``burst_every_s``
seconds, never fewer than ``ceil(full_decode_max_s / burst_s)``, at most
``max_bursts``, with ``long_max_frames`` analysed frames in all, so a 10-minute
clip is judged on all of its length and a one-hour one stays bounded in time
and memory. A reader told what the face stage found (``follow_faces``) cuts a
burst short when its first ``probe_frames`` analysed frames show no face,
and gives the frames it saved to the bursts still to come.

Times come from presentation timestamps (variable frame rate works), counted
from the first frame. A file that breaks halfway (truncated, damaged packets)
does not raise: damaged packets are skipped and decoding resumes at the next
picture FFmpeg can decode (a demuxer that loses its footing is restarted a few
times), what was decoded is kept, ``FrameReader.warnings`` says what happened
and ``FrameReader.coverage`` how much of the video was decoded. Only a file
that yields no picture at all raises ``UnsupportedMedia``.

Every picture is held to ``sampling.max_pixels`` as it is decoded, not as the
container header claims: FFmpeg's decoder is told the limit (it refuses to
allocate a larger picture), still-picture packets (PNG, JPEG, ... inside a
video container) are checked from their own headers before decoding, and
decoded frames before any conversion. Over the limit is ``MediaTooLarge``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from unmask.config import SamplingConfig
from unmask.errors import NoVideoStream
from unmask.media.containers import (
    frame_duration_ms,
    image_is_animated,
    open_container,
    open_image,
    unsupported,
    video_stream,
)
from unmask.media.coverage import measure_coverage
from unmask.media.pixel_limit import check_frame, check_packet, limit_decoder, refused_as_too_large, too_large
from unmask.media.sampling import GridSampler, burst_count, frame_budget, plan_segments, sample_rate
from unmask.media.thumbs import THUMB_SIZE, grey_thumb
from unmask.types import DecodeCoverage, Frame, FrameStat, MediaInfo

_MAX_BAD_RUN = 250  # damaged packets in a row (no picture between) before giving up on the rest of the file
_MAX_DEMUX_RESTARTS = 3  # demuxer errors in a row, each followed by a restart, before giving up
_MAX_PREROLL_FRAMES = 600  # frames decoded between a seek's keyframe and a burst start before we start anyway
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError, EOFError, MemoryError, RuntimeError)
# Pillow's parsers are Python reading untrusted bytes: any exception there means a broken file.
_PIL_ERRORS = (Exception,)
_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


class _Stop(Exception):
    """Internal: end the whole read (the reason is already in ``warnings``)."""


class FrameReader:
    """Iterate sampled ``Frame``s of a probed file; ``stats`` covers every decoded frame.

    ``Frame.index``/``FrameStat.index`` count decoded frames in decode order
    (0, 1, 2, ... across bursts), so a Frame and its FrameStat share an index;
    ``n_decoded`` is their number. Frames decoded only to reach a burst's start
    after a seek (from the keyframe before it) are not counted. ``segment``
    numbers the contiguous pieces actually read (bursts that yielded frames):
    always 0 for a fully decoded video, an animation or a still. Animations are
    always read whole (Pillow cannot seek cheaply); the frame budget still holds.
    Iterating again starts over. After a read, ``coverage`` says how much of the
    video could be decoded and whether the stream was damaged.
    """

    def __init__(self, info: MediaInfo, sampling: SamplingConfig, follow_faces: bool = False) -> None:
        """``follow_faces``: the caller reports each sampled frame's faces (:meth:`saw_faces`), so a long
        video's faceless bursts are cut short and their frames go to the bursts with faces."""
        self.info = info
        self.sampling = sampling
        self.follow_faces = follow_faces
        self.stats: list[FrameStat] = []
        self.warnings: list[str] = []
        self.n_decoded = 0
        self.n_sampled = 0
        if info.kind == "video":
            self.rate = sample_rate(info.duration_s, sampling)
            self.segments = plan_segments(info.duration_s, sampling)
            self.budget = frame_budget(info.duration_s, sampling)
        else:  # animations are read whole, on the rate (and budget) they always had
            whole = replace(sampling, long_max_frames=sampling.max_frames, max_bursts=1)
            self.rate = sample_rate(info.duration_s, whole)
            self.segments = [(0.0, math.inf)]
            self.budget = sampling.max_frames
        self._burst_frames = 0  # sampled frames handed out in the current burst...
        self._burst_faces = 0  # ...and the faces the caller found in them
        self._cut_s = 0.0  # planned seconds not read because their burst showed no face
        self.bursts_cut = 0  # bursts cut short for want of a face
        # per-read video state
        self._t0: float | None = None  # absolute time of the first decoded frame
        self._last_abs = -math.inf  # absolute time of the last frame counted
        self._bad_packets = 0
        self._bad_run = 0
        self._last_err = ""
        self._problems: list[str] = []  # what made the read incomplete (damage), in words
        #: after a full read: how much of the video was decoded, and whether the stream was damaged
        self.coverage = DecodeCoverage(0.0, 0.0)

    def __iter__(self) -> Iterator[Frame]:
        self.stats = []
        self.warnings = []
        self._problems = []
        self.n_decoded = 0
        self.n_sampled = 0
        self.coverage = DecodeCoverage(0.0, 0.0)
        self._cut_s = 0.0
        self.bursts_cut = 0
        frames = self._iter_images() if self.info.kind != "video" else self._iter_video()
        for frame in frames:
            self.n_sampled += 1
            yield frame
        self.coverage = self._measure_coverage()

    def saw_faces(self, n: int) -> None:
        """The face stage found ``n`` faces in the frame this reader handed out last (``follow_faces``)."""
        self._burst_faces += n

    # -- shared ------------------------------------------------------------------------------

    def _damage(self, warning: str) -> None:
        """Record a warning that means part of the stream could not be decoded."""
        self.warnings.append(warning)
        self._problems.append(warning)

    def _measure_coverage(self) -> DecodeCoverage:
        """How much of what this read set out to decode was decoded; a hole in the pictures counts as damage."""
        coverage, holes = measure_coverage(self.info, self.stats, self.segments, self._cut_s, self._problems)
        self.warnings.extend(holes)
        self._problems.extend(holes)
        return coverage

    def _stat(self, t: float, segment: int, thumb: npt.NDArray[np.uint8], prev: npt.NDArray[np.uint8] | None) -> int:
        index = self.n_decoded
        self.n_decoded += 1
        diff = math.nan if prev is None else float(np.mean(np.abs(thumb.astype(np.int16) - prev.astype(np.int16))))
        self.stats.append(FrameStat(index=index, t=t, diff=diff, segment=segment))
        return index

    def _target_size(self, w: int, h: int) -> tuple[int, int, float]:
        """Size to convert a stored (w, h) picture to, and the scale, so the longer side <= max_side."""
        long_side = max(w, h)
        if long_side <= self.sampling.max_side:
            return w, h, 1.0
        scale = self.sampling.max_side / long_side
        return max(1, round(w * scale)), max(1, round(h * scale)), scale

    # -- video (PyAV) ----------------------------------------------------------------------

    def _iter_video(self) -> Iterator[Frame]:
        p = Path(self.info.path)
        container = open_container(p, self.sampling.max_pixels)
        with container:
            vs = video_stream(container)
            if vs is None:
                raise NoVideoStream(p, "has no video stream")
            limit_decoder(vs, self.sampling.max_pixels)
            sampler = GridSampler(self.rate, self.budget)
            self._t0 = None
            self._last_abs = -math.inf
            self._bad_packets = 0
            self._bad_run = 0
            self._last_err = ""
            segment = 0
            # full decode guard: a header that under-reports the length must not make the read unbounded
            guard = max(self.info.duration_s * 1.5 + 5.0, self.sampling.full_decode_max_s * 1.5)
            try:
                for k, (start, end) in enumerate(self.segments):
                    if len(self.segments) == 1:
                        end = guard
                    elif self.follow_faces and k > 0:  # what faceless bursts saved goes to the rest
                        ahead = sum(e - s for s, e in self.segments[k:])
                        sampler.retune(min(self.sampling.fps, max(sampler.left - (len(self.segments) - k), 1) / ahead))
                    got = yield from self._read_segment(container, vs, k, start, end, segment, sampler)
                    if got:
                        segment += 1
            except _Stop:
                pass
            if self._bad_packets:
                self._damage(f"skipped {self._bad_packets} damaged packet(s) ({self._last_err})")
        if self.n_decoded == 0:
            raise unsupported(p, self._last_err or "no picture could be decoded")

    def _read_segment(
        self, container: Any, vs: Any, k: int, start: float, end: float, segment: int, sampler: GridSampler
    ) -> Generator[Frame, None, bool]:
        """Decode one contiguous piece; returns (via StopIteration) whether it produced frames."""
        tb = vs.time_base
        if k > 0:
            base = self._t0 if self._t0 is not None else 0.0
            try:
                container.seek(int(max(0.0, base + start) / tb), stream=vs, backward=True)
            except _AV_ERRORS as e:
                self._damage(f"could not seek to {start:.1f} s ({_short(e)}); read {k} of {len(self.segments)} parts")
                raise _Stop from None
        prev: npt.NDArray[np.uint8] | None = None
        got = False
        first_t = start
        preroll = 0
        self._burst_frames = 0
        self._burst_faces = 0
        may_cut = self.follow_faces and len(self.segments) > 1
        for frame in self._decode(container, vs):
            if frame.time is not None:
                t_abs = float(frame.time)
            else:  # no timestamp: assume the nominal frame interval after the last one
                step = 1.0 / self.info.fps if self.info.fps else 0.04
                t_abs = self._last_abs + step if self._last_abs > -math.inf else (self._t0 or 0.0)
            if self._t0 is None:
                self._t0 = t_abs
            t = t_abs - self._t0
            if t < start - 1e-6 and preroll < _MAX_PREROLL_FRAMES:
                preroll += 1
                continue
            if t_abs <= self._last_abs and k > 0:
                continue  # already read in the previous burst
            if t >= end:
                if len(self.segments) == 1:
                    stated = self.info.duration_s
                    self.warnings.append(f"stopped at {t:.1f} s: the video runs far past the {stated:.1f} s "
                                         "its header states")
                return got
            check_frame(Path(self.info.path), frame, self.sampling.max_pixels, (self.info.width, self.info.height),
                        f"at {t:.1f} s")
            if not got:
                first_t = t
            got = True
            self._last_abs = max(self._last_abs, t_abs)
            try:
                thumb = grey_thumb(frame)
                index = self._stat(t, segment, thumb, prev)
                prev = thumb
                picked = self._to_rgb(frame) if sampler.take(t) else None
            except _AV_ERRORS as e:
                self._last_err = _short(e)
                self._damage(f"decoding stopped at {t:.1f} s: cannot convert the picture ({self._last_err})")
                raise _Stop from None
            if picked is not None:
                yield Frame(index=index, t=t, rgb=picked[0], segment=segment, scale=picked[1])
                self._burst_frames += 1
                if may_cut and self._burst_faces == 0 and self._burst_frames >= self.sampling.probe_frames:
                    # planned becomes what was read: from the burst's first picture to the end of this one
                    self._cut_s += max(0.0, min(end, self.info.duration_s) - start - (t - first_t + self._frame_s()))
                    self.bursts_cut += 1
                    return got
        # the file ended: early, unless this part reaches (about) the stated end
        expected = min(end, self.info.duration_s)
        reached = self._last_abs - (self._t0 or 0.0) if got else start
        tol = max(0.5, 3.0 / self.info.fps) if self.info.fps else 0.5
        if self.info.duration_s > 0 and reached < expected - tol:
            stated = self.info.duration_s
            self._damage(f"decoding stopped at {max(reached, 0.0):.1f} s of {stated:.1f} s: the file looks truncated")
            raise _Stop
        return got

    def _decode(self, container: Any, vs: Any) -> Iterator[Any]:
        """Frames in presentation order; damaged packets are skipped and decoding resumes after them.

        A demuxer error restarts the demuxer from where it stopped (up to ``_MAX_DEMUX_RESTARTS``
        times in a row); the read ends after ``_MAX_BAD_RUN`` damaged packets in a row. Pictures
        over the pixel limit raise ``MediaTooLarge`` (checked before decoding where the packet says
        its size, and by the decoder itself, told the limit in ``_iter_video``).
        """
        p = Path(self.info.path)
        cc = vs.codec_context
        codec = str(cc.name) if cc is not None else ""
        header = (self.info.width, self.info.height)
        demux = container.demux(vs)
        restarts = 0
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except _AV_ERRORS as e:
                t = (self._last_abs - (self._t0 or 0.0)) if self.n_decoded else 0.0
                self._last_err = _short(e)
                if restarts < _MAX_DEMUX_RESTARTS:  # the demuxer may find its feet past a damaged stretch
                    restarts += 1
                    self._damage(f"damaged data at {t:.1f} s ({self._last_err}); reading on after it")
                    demux = container.demux(vs)
                    continue
                self._damage(f"decoding stopped at {t:.1f} s: {self._last_err}")
                raise _Stop from None
            restarts = 0
            check_packet(p, codec, packet, self.sampling.max_pixels, header, self._where())
            try:
                frames = packet.decode()
            except _AV_ERRORS as e:
                if cc is not None and refused_as_too_large(cc, e, self.sampling.max_pixels):
                    raise too_large(p, int(cc.width or 0), int(cc.height or 0), self.sampling.max_pixels,
                                    self._where(), header) from None
                self._bad_packets += 1
                self._bad_run += 1
                self._last_err = _short(e)
                if self._bad_run > _MAX_BAD_RUN:
                    t = (self._last_abs - (self._t0 or 0.0)) if self.n_decoded else 0.0
                    self._damage(f"decoding stopped at {t:.1f} s: {self._bad_run} damaged packets in a row "
                                 f"({self._last_err})")
                    self._bad_run = 0
                    raise _Stop from None
                continue
            self._bad_run = 0
            yield from frames

    def _frame_s(self) -> float:
        return 1.0 / self.info.fps if self.info.fps else 0.04

    def _where(self) -> str:
        return f"after {self._last_abs - self._t0:.1f} s" if self._t0 is not None and self.n_decoded else "at the start"

    def _to_rgb(self, frame: Any) -> tuple[npt.NDArray[np.uint8], float]:
        w, h, scale = self._target_size(frame.width, frame.height)
        if scale < 1.0:
            rgb = frame.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
        else:
            rgb = frame.to_ndarray(format="rgb24")
        if self.info.rotation:
            rgb = cv2.rotate(rgb, _ROTATE[self.info.rotation])
        return np.ascontiguousarray(rgb, dtype=np.uint8), scale

    # -- stills and animations (Pillow) -----------------------------------------------------

    def _iter_images(self) -> Iterator[Frame]:
        p = Path(self.info.path)
        try:
            img = open_image(p)
        except Image.DecompressionBombError as e:
            raise unsupported(p, e) from None
        if img is None:
            raise unsupported(p, "the image can no longer be identified")
        with img:
            animated = self.info.kind == "animation" and image_is_animated(img)
            sampler = GridSampler(self.rate, self.sampling.max_frames)
            prev: npt.NDArray[np.uint8] | None = None
            t_ms = 0.0
            err = ""
            for i in itertools.count():
                if i > 0 and not animated:
                    break
                try:
                    if animated:
                        img.seek(i)
                        pic = img.convert("RGB")
                    else:
                        pic = ImageOps.exif_transpose(img).convert("RGB")
                except EOFError:
                    if i > 0:
                        break  # past the last frame
                    err = "no picture"
                    break
                except _PIL_ERRORS as e:
                    err = _short(e)
                    if self.n_decoded:
                        self._damage(f"decoding stopped at {t_ms / 1000:.1f} s (frame {i}): {err}")
                    break
                t = t_ms / 1000.0
                if animated:
                    t_ms += frame_duration_ms(img)
                thumb = np.asarray(pic.convert("L").resize(THUMB_SIZE, Image.Resampling.BILINEAR))
                index = self._stat(t, 0, thumb, prev)
                prev = thumb
                if not animated or sampler.take(t):
                    w, h, scale = self._target_size(*pic.size)
                    if scale < 1.0:
                        pic = pic.resize((w, h), Image.Resampling.BILINEAR)
                    yield Frame(index=index, t=t, rgb=np.array(pic, dtype=np.uint8), segment=0, scale=scale)
        if self.n_decoded == 0:
            raise unsupported(p, err or "no picture could be decoded")


def decode_only_seconds(path: str | Path) -> float:
    """Wall seconds to decode every frame of ``path`` without any conversion (benchmark baseline)."""
    p = Path(path)
    t = time.perf_counter()
    img = open_image(p)
    if img is not None:
        with img:
            i = 0
            while True:
                try:
                    img.seek(i)
                    img.load()
                except _PIL_ERRORS:
                    break  # EOFError after the last frame
                i += 1
        return time.perf_counter() - t
    with open_container(p) as container:
        vs = video_stream(container)
        if vs is None:
            raise NoVideoStream(p, "has no video stream")
        try:
            for packet in container.demux(vs):
                try:
                    packet.decode()
                except _AV_ERRORS:
                    continue
        except _AV_ERRORS:
            pass
    return time.perf_counter() - t


def _short(err: BaseException) -> str:
    if isinstance(err, av.error.FFmpegError) and err.strerror:
        return str(err.strerror)[:120]
    return (str(err) or type(err).__name__)[:120]


# the sampling maths and the thumbnail size moved out; importable from here as before
__all__ = ["THUMB_SIZE", "FrameReader", "burst_count", "decode_only_seconds", "frame_budget", "plan_segments",
           "sample_rate"]
