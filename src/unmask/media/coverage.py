"""How many seconds of a video the decoded pictures cover, and where pictures were lost.

A reader that skips damaged data can leave a hole in the timestamps without any error; here such
a hole is told apart from a long frame, so ``DecodeCoverage`` says what was really decoded.
"""

from __future__ import annotations

import numpy as np

from unmask.types import DecodeCoverage, FrameStat, MediaInfo

HOLE_MIN_S = 1.0  # a gap in a regular stream's timestamps this long (and >= HOLE_FRAMES frames) is lost picture
HOLE_FRAMES = 12


def measure_coverage(info: MediaInfo, stats: list[FrameStat], segments: list[tuple[float, float]], cut_s: float,
                     problems: list[str]) -> tuple[DecodeCoverage, list[str]]:
    """How much of what a read set out to decode was decoded, and whether the stream was damaged.

    ``segments`` are the planned (start, end) seconds, ``cut_s`` the planned seconds skipped on purpose
    (faceless bursts), ``problems`` the damage seen so far. Decoded seconds are the spans between
    consecutive decoded pictures; in a regular video (most steps within 25 % of the usual one) a gap of
    at least ``HOLE_MIN_S`` and ``HOLE_FRAMES`` frames is lost picture (a demuxer that skipped damaged
    data without an error), not decoded time, and counts as damage: the second value words those holes.
    """
    kind = info.kind
    if kind == "image" or not stats:
        return DecodeCoverage(0.0, 0.0, bool(problems), tuple(problems)), []
    if kind == "animation":
        planned = info.duration_s
        step = planned / max(info.n_frames or len(stats), 1)
    else:
        planned = sum(max(0.0, min(e, info.duration_s) - st) for st, e in segments) - cut_s \
            if len(segments) > 1 else info.duration_s
        step = 1.0 / info.fps if info.fps else 0.0
    decoded, holes = covered_seconds(stats, step, find_holes=kind == "video")
    hole_words = [f"no picture could be decoded between {a:.1f} and {b:.1f} s" for a, b in holes[:3]]
    all_problems = (*problems, *hole_words)
    coverage = DecodeCoverage(max(planned, 0.0), min(decoded, planned) if planned > 0 else decoded,
                              bool(all_problems), all_problems)
    return coverage, hole_words


def covered_seconds(stats: list[FrameStat], step: float, find_holes: bool) -> tuple[float, list[tuple[float, float]]]:
    """Seconds covered by decoded pictures (each shown until the next, the last for one ``step``), and the holes.

    A hole is a gap of at least ``HOLE_MIN_S`` and ``HOLE_FRAMES`` steps in a stream whose
    other steps are regular (90 % within 25 % of their median): lost picture, not a long frame.
    """
    by_segment: dict[int, list[float]] = {}
    for st in stats:
        by_segment.setdefault(st.segment, []).append(st.t)
    total = 0.0
    holes: list[tuple[float, float]] = []
    for times in by_segment.values():
        ts = np.unique(np.asarray(times, dtype=np.float64))
        dt = np.diff(ts)
        usual = float(np.median(dt)) if dt.size else step
        frame_s = step or usual
        regular = dt.size >= 4 and usual > 0 and float(np.mean(np.abs(dt - usual) <= 0.25 * usual)) >= 0.9
        gap_s = max(HOLE_MIN_S, HOLE_FRAMES * (frame_s or usual or 0.04))
        for a, d in zip(ts[:-1], dt):
            if find_holes and regular and d >= gap_s:
                holes.append((float(a), float(a + d)))
                total += frame_s
            else:
                total += float(d)
        total += frame_s
    return total, holes
