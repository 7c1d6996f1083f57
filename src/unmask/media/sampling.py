"""Which seconds of a video to decode and which decoded frames to analyse.

Videos up to ``sampling.full_decode_max_s`` are read whole (the sampling the fusion model was
calibrated on); longer ones as evenly spaced bursts (:func:`plan_segments`). The frame budget
(:func:`frame_budget`) is spread over what is read (:func:`sample_rate`), and :class:`GridSampler`
picks the frames on a fixed time grid, so the choice does not drift at any frame rate.
"""

from __future__ import annotations

import math

from unmask.config import SamplingConfig


def burst_count(duration_s: float, sampling: SamplingConfig) -> int:
    """Bursts of a long video: as many as a ``full_decode_max_s`` read needs, at least one every
    ``burst_every_s`` (capped at ``max_bursts``), and never so many that they overlap."""
    base = max(2, math.ceil(sampling.full_decode_max_s / sampling.burst_s))
    dense = min(sampling.max_bursts, math.ceil((duration_s - sampling.burst_s) / sampling.burst_every_s) + 1)
    fit = max(2, math.floor(duration_s / sampling.burst_s))
    return min(max(base, dense), fit)


def plan_segments(duration_s: float, sampling: SamplingConfig) -> list[tuple[float, float]]:
    """The (start, end) seconds to decode: the whole file, or bursts spread evenly over a long video."""
    if duration_s <= sampling.full_decode_max_s or duration_s <= sampling.burst_s:
        return [(0.0, math.inf)]
    n = burst_count(duration_s, sampling)
    span = duration_s - sampling.burst_s
    return [(span * i / (n - 1), span * i / (n - 1) + sampling.burst_s) for i in range(n)]


def frame_budget(duration_s: float, sampling: SamplingConfig) -> int:
    """Analysed frames a video may use: ``max_frames``, or for a video read in bursts ``long_max_frames``."""
    if len(plan_segments(duration_s, sampling)) == 1:
        return sampling.max_frames
    return max(sampling.max_frames, sampling.long_max_frames)


def sample_rate(duration_s: float, sampling: SamplingConfig) -> float:
    """Sampled frames per second of decoded video, so the frame budget is spread over all of it.

    Each segment may yield one frame more than ``rate * length`` (its first frame
    is taken off-grid), hence the budget minus one per segment.
    """
    segments = plan_segments(duration_s, sampling)
    if len(segments) == 1:
        span = duration_s
    else:
        span = sum(e - s for s, e in segments)
    if span <= 0:
        return float(sampling.fps)
    budget = max(frame_budget(duration_s, sampling) - len(segments), 1)
    return float(min(sampling.fps, budget / span))


class GridSampler:
    """Takes a frame when its time reaches the next slot of a fixed grid (no drift at any frame rate)."""

    def __init__(self, rate: float, max_frames: int) -> None:
        self.step = 1.0 / rate
        self.next_due = -math.inf
        self.left = max_frames

    def retune(self, rate: float) -> None:
        """Sample at ``rate`` from the next burst on (the grid restarts there)."""
        self.step = 1.0 / rate
        self.next_due = -math.inf

    def take(self, t: float) -> bool:
        if self.left <= 0 or t < self.next_due - 1e-6:
            return False
        self.left -= 1
        self.next_due = (math.floor(t / self.step + 1e-6) + 1) * self.step
        return True
