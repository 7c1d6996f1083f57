"""Playback glitches: frozen or duplicated frames, timing staggers, faces that drop out.

Viewers caught @deeptomcruise by moments where the picture hiccups: a swap
pipeline that drops, repeats or re-times frames, or a face model that loses
the face for a frame while the head is plainly there. These cues need no face
model: freezes and staggers come from every decoded frame's cheap stats, and
drop-outs from which sampled frames found the face. Benign look-alikes are
handled on purpose: a static scene or slideshow (still everywhere, not in
isolated runs), regular single duplicates from frame-rate conversion
(25 -> 30 fps), and the timing jitter of variable-frame-rate phone video.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from unmask.analyzers.base import Analyzer
from unmask.types import AnalyzerResult, Evidence, FaceTrack, FrameStat, MediaContext, Need, SampledFrame, TrackScore

# duplicate frame: thumbnail difference at most max(DUP_ABS, DUP_REL * median difference)
# (decoded true duplicates measure ~0.001-0.005; a near-still real scene 0.02-0.1, its sensor noise ~0.1)
DUP_ABS = 0.01
DUP_REL = 0.05
#: a video whose median frame difference is below this (grey levels) is a static scene
STATIC_DIFF = 0.03
#: ... or whose frames are duplicates this often (slideshow, screen recording)
STATIC_DUP_FRAC = 0.5
#: a freeze is at least this many repeated frames in a row (single repeats are frame-rate conversion)
FREEZE_MIN_REPEATS = 3
FREEZE_MIN_S = 0.1
#: freezes touching the first/last EDGE_S of the stream are weaker evidence (encoders pad the ends)
EDGE_S = 0.3

# staggers: timestamp steps against the segment's median step
STAGGER_LONG = 1.75  # a step this many times the median looks like dropped frames
STAGGER_SHORT = 0.25  # a step this small (but positive) looks like a doubled frame
VFR_SPREAD = 0.08  # relative MAD of steps above this: variable frame rate, benign jitter
VFR_TOLERANCE = 6.0  # on VFR video a long step must also exceed median * (1 + this * spread)

# drop-outs: the face vanishes from sampled frames while confident and big on both sides
DROPOUT_MIN_CONF = 0.7
DROPOUT_MIN_SIZE = 0.7  # fraction of the track's median size

# squashes (score 1 at these): fusion calibrates, these only order tracks
FREEZE_RUNS_SCALE = 4.0  # freezes per minute for score 1 - 1/e
STAGGER_FRAC_FULL = 0.05
DROPOUT_FRAC_FULL = 0.2
#: rates are computed over at least this many seconds, so one event in a 2 s clip is not 30/min
MIN_RATE_SPAN_S = 10.0


@dataclass(frozen=True)
class Freeze:
    t_start: float  # first shown time of the held picture
    t_end: float  # when the picture finally changes
    frame_start: int
    frame_end: int
    repeats: int  # frames that repeat the first one

    @property
    def duration(self) -> float:
        return self.t_end - self.t_start


@dataclass(frozen=True)
class Stagger:
    t_start: float
    t_end: float
    frame_start: int
    frame_end: int
    kind: str  # "repeated", "backwards", "gap", "short"
    ratio: float  # step / median step


@dataclass(frozen=True)
class Dropout:
    t_start: float
    t_end: float
    frame_start: int
    frame_end: int
    missing: int  # sampled frames without this face
    no_face_at_all: bool


@dataclass(frozen=True)
class StreamFacts:
    """What the whole frame stream says, before any face is looked at."""

    median_diff: float
    dup_frac: float
    static: bool
    step_spread: float  # relative MAD of timestamp steps (0 for constant frame rate)
    vfr: bool
    n_diffs: int
    n_steps: int
    freezes: tuple[Freeze, ...]
    staggers: tuple[Stagger, ...]
    duration_s: float


def _segments(stats: Sequence[FrameStat]) -> list[list[FrameStat]]:
    by: dict[int, list[FrameStat]] = {}
    for s in sorted(stats, key=lambda s: s.index):
        by.setdefault(s.segment, []).append(s)
    return [by[k] for k in sorted(by)]


def stream_facts(stats: Sequence[FrameStat]) -> StreamFacts:
    """Find freezes and staggers in the decoded frame stream."""
    segs = _segments(stats)
    diffs = np.array([s.diff for s in stats if math.isfinite(s.diff)], dtype=np.float64)
    median_diff = float(np.median(diffs)) if len(diffs) else 0.0
    dup_thr = max(DUP_ABS, DUP_REL * median_diff)
    dup_frac = float(np.mean(diffs <= dup_thr)) if len(diffs) else 0.0
    static = len(diffs) > 0 and (median_diff < STATIC_DIFF or dup_frac > STATIC_DUP_FRAC)

    steps_all: list[float] = []
    for seg in segs:
        steps_all.extend(np.diff([s.t for s in seg]).tolist())
    steps = np.array(steps_all)
    pos = steps[steps > 0]
    med_step = float(np.median(pos)) if len(pos) else 0.0
    spread = float(np.median(np.abs(pos - med_step)) / med_step) if med_step > 0 else 0.0
    vfr = spread > VFR_SPREAD

    t_first = min((s.t for s in stats), default=0.0)
    t_last = max((s.t for s in stats), default=0.0)
    freezes: list[Freeze] = []
    staggers: list[Stagger] = []
    for seg in segs:
        freezes.extend(_freezes(seg, dup_thr, med_step))
        if med_step > 0:
            staggers.extend(_staggers(seg, med_step, spread if vfr else 0.0))
    return StreamFacts(median_diff, dup_frac, bool(static), spread, vfr, len(diffs), int(len(steps)),
                       tuple(freezes), tuple(staggers), float(t_last - t_first))


def _freezes(seg: list[FrameStat], dup_thr: float, med_step: float) -> list[Freeze]:
    out = []
    i = 0
    n = len(seg)
    while i < n:
        if math.isfinite(seg[i].diff) and seg[i].diff <= dup_thr and i > 0:
            j = i
            while j + 1 < n and math.isfinite(seg[j + 1].diff) and seg[j + 1].diff <= dup_thr:
                j += 1
            repeats = j - i + 1
            first, last = seg[i - 1], seg[j]
            t_end = seg[j + 1].t if j + 1 < n else last.t + med_step
            if repeats >= FREEZE_MIN_REPEATS and t_end - first.t >= FREEZE_MIN_S:
                out.append(Freeze(first.t, t_end, first.index, last.index, repeats))
            i = j + 1
        else:
            i += 1
    return out


def _staggers(seg: list[FrameStat], med_step: float, vfr_spread: float) -> list[Stagger]:
    long_thr = med_step * max(STAGGER_LONG, 1.0 + VFR_TOLERANCE * vfr_spread)
    out: list[Stagger] = []
    for a, b in zip(seg, seg[1:]):
        dt = b.t - a.t
        kind = ""
        if abs(dt) < 1e-6:
            kind = "repeated"
        elif dt < 0:
            kind = "backwards"
        elif dt > long_thr:
            kind = "gap"
        elif dt < STAGGER_SHORT * med_step and not vfr_spread:
            kind = "short"
        if not kind:
            continue
        g = Stagger(min(a.t, b.t), max(a.t, b.t), a.index, b.index, kind, dt / med_step)
        if out and out[-1].frame_end == a.index:  # one irregularity often spans two steps: merge them
            p = out[-1]
            keep = p if _KIND_RANK[p.kind] <= _KIND_RANK[g.kind] else g
            g = Stagger(min(p.t_start, g.t_start), max(p.t_end, g.t_end), p.frame_start, g.frame_end,
                        keep.kind, keep.ratio)
            out[-1] = g
        else:
            out.append(g)
    return out


_KIND_RANK = {"backwards": 0, "repeated": 1, "gap": 2, "short": 3}


def track_dropouts(track: FaceTrack, sampled: Sequence[SampledFrame]) -> tuple[list[Dropout], int]:
    """Drop-outs inside the track, and how many sampled frames its time span covers."""
    obs = track.observations
    med_size = track.median_size
    span = [s for s in sampled if track.start_t <= s.t <= track.end_t
            and s.segment in {o.segment for o in obs}]
    out = []
    for a, b in zip(obs, obs[1:]):
        if a.segment != b.segment:
            continue
        missing = [s for s in span if a.t < s.t < b.t and s.segment == a.segment]
        if not missing:
            continue
        confident = min(a.score, b.score) >= DROPOUT_MIN_CONF
        big = min(a.size, b.size) >= DROPOUT_MIN_SIZE * med_size
        if confident and big:
            out.append(Dropout(missing[0].t, missing[-1].t, missing[0].index, missing[-1].index, len(missing),
                               all(s.n_faces == 0 for s in missing)))
    return out, len(span)


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def freeze_strength(f: Freeze, facts: StreamFacts, t0: float, t1: float) -> float:
    """Longer freezes are stronger; ones at the very start/end and in static scenes much weaker."""
    s = _clip01(0.3 + f.duration)
    if f.t_start - t0 < EDGE_S or t1 - f.t_end < EDGE_S:
        s *= 0.5
    if facts.static:
        s *= 0.3
    return s


def stagger_strength(g: Stagger, facts: StreamFacts) -> float:
    if g.kind in ("repeated", "backwards"):
        s = 0.5
    elif g.kind == "gap":
        s = _clip01(0.25 + 0.1 * (g.ratio - 1.0))
    else:
        s = 0.25
    return s * (0.5 if facts.vfr else 1.0)


def _rate_span(seconds: float) -> float:
    return max(seconds, MIN_RATE_SPAN_S) / 60.0


class GlitchAnalyzer(Analyzer):
    """Freezes, duplicated frames, timing staggers and face drop-outs."""

    name: ClassVar[str] = "glitches"
    version: ClassVar[str] = "1.0"
    needs: ClassVar[frozenset[Need]] = frozenset({Need.TIME})
    checks: ClassVar[str] = "whether the picture freezes, repeats or stutters, or the face vanishes for a moment"
    feature_words: ClassVar[dict[str, str]] = {
        "freeze_runs_per_min": "frozen-picture episodes per minute",
        "max_freeze_s": "longest frozen-picture episode",
        "dup_frac": "share of frames that repeat the previous one",
        "stagger_frac": "share of frames with irregular timing",
        "dropout_frac": "share of frames where the face vanished mid-track",
    }
    suspect_when: ClassVar[dict[str, int]] = {
        "freeze_runs_per_min": 1, "max_freeze_s": 1, "dup_frac": 1, "stagger_frac": 1, "dropout_frac": 1,
    }

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        if ctx.is_still or ctx.info.kind == "image" or len(ctx.frame_stats) < 3:
            return self.skipped("a still image has no motion to check")
        facts = stream_facts(ctx.frame_stats)
        t0 = min(s.t for s in ctx.frame_stats)
        t1 = max(s.t for s in ctx.frame_stats)
        audio = " while the sound went on" if ctx.info.has_audio else ""
        vfr_note = (" This looks like variable-frame-rate (phone) video, where some timing jitter is normal."
                    if facts.vfr else "")

        stream_ev: list[tuple[Evidence, float, float]] = []
        for f in facts.freezes:
            st = freeze_strength(f, facts, t0, t1)
            still = " (the scene is mostly still anyway)" if facts.static else ""
            stream_ev.append((Evidence(
                "frozen_frames",
                f"{{who}}{f.t_start:.1f}–{f.t_end:.1f} s: the picture froze for {f.repeats + 1} frames{audio}{still}.",
                st, f.t_start, f.t_end, None, f.frame_start, f.frame_end), f.t_start, f.t_end))
        for g in facts.staggers:
            what = {
                "repeated": "two frames carry the same timestamp",
                "backwards": "a frame's timestamp goes backwards",
                "gap": f"the time between frames jumps to {g.ratio:.1f} times the usual step, "
                "as if frames were dropped",
                "short": f"two frames come only {g.ratio:.2f} of the usual step apart",
            }[g.kind]
            stream_ev.append((Evidence(
                "timing_stagger", f"{{who}}{g.t_start:.2f}–{g.t_end:.2f} s: {what}.{vfr_note}",
                stagger_strength(g, facts), g.t_start, g.t_end, None, g.frame_start, g.frame_end), g.t_start, g.t_end))

        evidence: list[Evidence] = []
        scores: list[TrackScore] = []
        claimed: set[int] = set()
        for track in ctx.tracks:
            ts, ev = self._track(track, ctx, facts, stream_ev, claimed)
            scores.append(ts)
            evidence.extend(ev)
        for k, (e, _, _) in enumerate(stream_ev):
            if k not in claimed:
                evidence.append(_with_who(e, None))

        vf = self._video_features(facts)
        return self.ok(scores, evidence, self._explain(facts, evidence), vf)

    def _track(self, track: FaceTrack, ctx: MediaContext, facts: StreamFacts,
               stream_ev: list[tuple[Evidence, float, float]], claimed: set[int]) -> tuple[TrackScore, list[Evidence]]:
        tid = track.id
        a, b = track.start_t, track.end_t
        ev: list[Evidence] = []
        for k, (e, s, t) in enumerate(stream_ev):
            if t >= a and s <= b:
                claimed.add(k)
                ev.append(_with_who(e, tid))
        freezes = [f for f in facts.freezes if f.t_end >= a and f.t_start <= b]
        staggers = [g for g in facts.staggers if g.t_end >= a and g.t_start <= b]
        in_span = [s for s in ctx.frame_stats if a <= s.t <= b]
        diffs = np.array([s.diff for s in in_span if math.isfinite(s.diff)])
        dup_thr = max(DUP_ABS, DUP_REL * facts.median_diff)
        dup_frac = float(np.mean(diffs <= dup_thr)) if len(diffs) else 0.0
        n_steps = max(len(in_span) - 1, 1)
        dropouts, n_span = track_dropouts(track, ctx.sampled)
        missing = sum(d.missing for d in dropouts)
        for d in dropouts:
            where = ("no face at all was found in those frames" if d.no_face_at_all
                     else "the face was lost while other faces were still found")
            ev.append(Evidence(
                "face_dropout",
                f"Face {tid}, {d.t_start:.1f}–{d.t_end:.1f} s: the face vanished for {d.missing} analysed "
                f"frame{'s' if d.missing > 1 else ''} although it was large and clearly detected just before and after "
                f"({where}; a hand or a fast turn can also do this).",
                _clip01(0.3 + 0.1 * d.missing), d.t_start, d.t_end, tid, d.frame_start, d.frame_end))

        rate = 0.0 if facts.static else len(freezes) / _rate_span(b - a)
        feats = {
            "freeze_runs_per_min": float(rate),
            "max_freeze_s": float(max((f.duration for f in freezes), default=0.0)),
            "dup_frac": dup_frac,
            "stagger_frac": float(len(staggers) / n_steps),
            "dropout_frac": float(missing / max(n_span, 1)),
            "static_scene": float(facts.static),
        }
        s_freeze = 1.0 - math.exp(-rate / FREEZE_RUNS_SCALE)
        s_stagger = _clip01(feats["stagger_frac"] / STAGGER_FRAC_FULL) * (0.5 if facts.vfr else 1.0)
        s_drop = _clip01(feats["dropout_frac"] / DROPOUT_FRAC_FULL)
        return TrackScore(tid, _clip01(max(s_freeze, s_stagger, s_drop)), feats), ev

    @staticmethod
    def _video_features(facts: StreamFacts) -> dict[str, float]:
        span = _rate_span(facts.duration_s)
        return {
            "freeze_runs_per_min": 0.0 if facts.static else len(facts.freezes) / span,
            "max_freeze_s": float(max((f.duration for f in facts.freezes), default=0.0)),
            "dup_frac": facts.dup_frac,
            "stagger_frac": len(facts.staggers) / max(facts.n_steps, 1),
            "static_scene": float(facts.static),
            "median_diff": facts.median_diff,
            "step_spread": facts.step_spread,
        }

    @staticmethod
    def _explain(facts: StreamFacts, evidence: list[Evidence]) -> str:
        n = {c: sum(e.cue == c for e in evidence) for c in ("frozen_frames", "timing_stagger", "face_dropout")}
        if not any(n.values()):
            base = "The video plays smoothly: no frozen frames, timing jumps or faces vanishing were found"
            if facts.static:
                base += " (the scene is mostly still, so freezes cannot be told apart from it)"
            return base + "."
        parts = []
        if n["frozen_frames"]:
            parts.append(f"{n['frozen_frames']} freeze{'s' if n['frozen_frames'] > 1 else ''}")
        if n["timing_stagger"]:
            parts.append(f"{n['timing_stagger']} timing jump{'s' if n['timing_stagger'] > 1 else ''}")
        if n["face_dropout"]:
            parts.append(f"{n['face_dropout']} moment{'s' if n['face_dropout'] > 1 else ''} where the face vanished")
        tail = (
            " Timing jitter is common in phone video, so those count little."
            if facts.vfr and n["timing_stagger"]
            else ""
        )
        return f"Playback glitches found: {', '.join(parts)}.{tail}"


def _with_who(e: Evidence, track_id: int | None) -> Evidence:
    who = f"Face {track_id}, " if track_id is not None else ""
    detail = e.detail.replace("{who}", who)
    if track_id is None:
        detail = detail[:1].upper() + detail[1:] if detail[:1].isalpha() else "At " + detail
    return Evidence(e.cue, detail, e.strength, e.t_start, e.t_end, track_id, e.frame_start, e.frame_end)
