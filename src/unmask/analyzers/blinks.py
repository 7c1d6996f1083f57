"""Blinking: how often, how long, and whether both eyes blink together.

Early face swaps were trained on photos with open eyes and blinked rarely
(In Ictu Oculi, 2018); generators that animate each eye region on its own can
close one eye without the other. Modern fakes blink, so this is a weak cue and
its score stays modest. Frames are sampled at up to ~8 fps and a blink lasts
0.1-0.4 s, so short blinks can fall between samples: rates are lower bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from unmask.analyzers.base import Analyzer
from unmask.types import AnalyzerResult, Evidence, FaceTrack, MediaContext, Need, TrackScore

#: mediapipe mesh eye points p1..p6 (outer corner, two upper lid, inner corner, two lower lid)
LEFT_EYE = (33, 160, 158, 133, 153, 144)
RIGHT_EYE = (362, 385, 387, 263, 373, 380)

MIN_TRACK_S = 4.0  # shorter tracks: blink features stay neutral
LONG_TRACK_S = 20.0  # no blink over this long is a (weak) cue
MIN_FRAMES = 12
#: a blink frame has an EAR below open - max(BLINK_DROP * open, MAD_K * robust spread)
BLINK_DROP = 0.25
MAD_K = 4.0
#: a one-eyed blink: one eye drops this far below its own open level ...
ONE_EYE_CLOSED = 0.4
#: ... while the other stays within this fraction of its open level
ONE_EYE_OPEN = 0.1
#: samples further apart than this many median steps do not form one blink
MAX_GAP_STEPS = 2.5
MAX_BLINK_S = 1.0  # eyes closed longer than this is not a blink (looking down, eyes shut)

# human reference values and neutral features for tracks that cannot be assessed
HUMAN_RATE_LOW = 8.0
HUMAN_RATE_HIGH = 21.0
NEUTRAL_RATE = 14.0
NEUTRAL_BLINK_S = 0.25
NEUTRAL_CORR = 0.8
NEUTRAL_SCORE = 0.5
NO_BLINK_SCORE = 0.6  # no blink in a long track: suspicious, but sampling can miss blinks
LOW_RATE_SCORE = 0.35
ONE_EYED_SCORE = 0.7  # most blinks one-eyed (a wink now and then is human)
BASE_SCORE = 0.2  # blinking looks normal


def eye_aspect_ratio(lm: NDArray[Any], idx: tuple[int, ...]) -> float:
    """(|p2-p6| + |p3-p5|) / (2 |p1-p4|) on 3-D mesh points; ~0.25-0.35 open, ~0.05-0.1 closed."""
    p = lm[list(idx)].astype(np.float64)
    width = np.linalg.norm(p[0] - p[3])
    if width <= 1e-9:
        return float("nan")
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2.0 * width))


@dataclass(frozen=True)
class Blink:
    t_start: float
    t_end: float
    frame_start: int
    frame_end: int
    left_drop: float  # deepest closure of each eye, as a fraction of its open level
    right_drop: float

    @property
    def duration(self) -> float:
        return self.t_end - self.t_start

    @property
    def one_eyed(self) -> str | None:
        """"left"/"right" when only that eye closed, the other clearly staying open."""
        if self.left_drop >= ONE_EYE_CLOSED and self.right_drop <= ONE_EYE_OPEN:
            return "left"
        if self.right_drop >= ONE_EYE_CLOSED and self.left_drop <= ONE_EYE_OPEN:
            return "right"
        return None


def _threshold(ear: NDArray[Any], drop: float) -> tuple[float, float]:
    """(open level, threshold) adapted to this track's eyes."""
    open_level = float(np.percentile(ear, 70))
    mad = float(np.median(np.abs(ear - np.median(ear)))) * 1.4826
    return open_level, open_level - max(drop * open_level, MAD_K * mad)


def _crossing(t_a: float, e_a: float, t_b: float, e_b: float, thr: float) -> float:
    """Time where the EAR crosses ``thr`` between two samples (linear)."""
    if e_a == e_b:
        return 0.5 * (t_a + t_b)
    w = (thr - e_a) / (e_b - e_a)
    return t_a + min(1.0, max(0.0, w)) * (t_b - t_a)


def detect_blinks(t: NDArray[Any], left: NDArray[Any], right: NDArray[Any], frames: NDArray[Any]) -> list[Blink]:
    """Blinks in per-frame EAR series: runs below an adaptive threshold, timed at threshold crossings."""
    both = 0.5 * (left + right)
    _, thr = _threshold(both, BLINK_DROP)
    open_l = float(np.percentile(left, 70))
    open_r = float(np.percentile(right, 70))
    # a single eye dropping far below its own level also starts an event (one-eyed blink)
    closed = (both < thr) | (left < (1 - ONE_EYE_CLOSED) * open_l) | (right < (1 - ONE_EYE_CLOSED) * open_r)
    dt = np.diff(t)
    step = float(np.median(dt[dt > 0])) if np.any(dt > 0) else 0.0
    blinks = []
    i, n = 0, len(t)
    while i < n:
        if not closed[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and closed[j + 1] and t[j + 1] - t[j] <= MAX_GAP_STEPS * step:
            j += 1
        prev_ok = i > 0 and t[i] - t[i - 1] <= MAX_GAP_STEPS * step
        next_ok = j + 1 < n and t[j + 1] - t[j] <= MAX_GAP_STEPS * step
        if prev_ok and next_ok:  # a blink needs open eyes on both sides to be timed
            t0 = _crossing(t[i - 1], both[i - 1], t[i], both[i], thr)
            t1 = _crossing(t[j], both[j], t[j + 1], both[j + 1], thr)
            if t1 - t0 <= MAX_BLINK_S:
                seg = slice(i, j + 1)
                blinks.append(Blink(float(t0), float(t1), int(frames[i]), int(frames[j]),
                                    float(1 - left[seg].min() / open_l), float(1 - right[seg].min() / open_r)))
        i = j + 1
    return blinks


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


class BlinkAnalyzer(Analyzer):
    """Blink rate, blink length and left/right synchrony per face track."""

    name: ClassVar[str] = "blinks"
    version: ClassVar[str] = "1.0"
    needs: ClassVar[frozenset[Need]] = frozenset({Need.FACES, Need.TIME, Need.LANDMARKS})
    checks: ClassVar[str] = "whether the person blinks at a human rate, for a human length of time, with both eyes"
    feature_words: ClassVar[dict[str, str]] = {
        "blink_rate_per_min": "blinks per minute",
        "mean_blink_s": "average blink length",
        "ear_std": "how much the eyes open and close overall",
        "left_right_corr": "how closely the left and right eyes open and close together",
        "one_eyed_frac": "share of blinks made with one eye only",
    }
    suspect_when: ClassVar[dict[str, int]] = {"blink_rate_per_min": -1, "left_right_corr": -1, "one_eyed_frac": 1}

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        if ctx.is_still or ctx.info.kind == "image":
            return self.skipped("a still image has no motion to check")
        if not ctx.tracks:
            return self.skipped("no face was found")
        scores, evidence, notes = [], [], []
        for track in ctx.tracks:
            ts, ev, note = self._track(track)
            scores.append(ts)
            evidence.extend(ev)
            notes.append(note)
        return self.ok(scores, evidence, " ".join(notes))

    def _track(self, track: FaceTrack) -> tuple[TrackScore, list[Evidence], str]:
        tid = track.id
        obs = track.with_landmarks
        duration = track.end_t - track.start_t
        neutral = {
            "blink_rate_per_min": NEUTRAL_RATE, "mean_blink_s": NEUTRAL_BLINK_S, "ear_std": 0.0,
            "left_right_corr": NEUTRAL_CORR, "one_eyed_frac": 0.0, "n_blinks": 0.0,
            "track_s": float(duration), "assessed": 0.0,
        }
        if duration < MIN_TRACK_S or len(obs) < MIN_FRAMES:
            return (TrackScore(tid, NEUTRAL_SCORE, neutral), [],
                    f"Face {tid} was seen for only {duration:.1f} s ({len(obs)} frames with eye points), "
                    f"too short to judge blinking (needs {MIN_TRACK_S:.0f} s).")
        t = np.array([o.t for o in obs])
        frames = np.array([o.frame_index for o in obs])
        left = np.array([eye_aspect_ratio(o.landmarks, LEFT_EYE) for o in obs])  # type: ignore[arg-type]
        right = np.array([eye_aspect_ratio(o.landmarks, RIGHT_EYE) for o in obs])  # type: ignore[arg-type]
        ok = np.isfinite(left) & np.isfinite(right)
        t, frames, left, right = t[ok], frames[ok], left[ok], right[ok]
        if len(t) < MIN_FRAMES:
            return TrackScore(tid, NEUTRAL_SCORE, neutral), [], f"Face {tid}: the eyes could not be measured."

        blinks = detect_blinks(t, left, right, frames)
        rate = len(blinks) / (duration / 60.0)
        both = 0.5 * (left + right)
        corr = float(np.corrcoef(left, right)[0, 1]) if left.std() > 1e-9 and right.std() > 1e-9 else NEUTRAL_CORR
        corr = corr if math.isfinite(corr) else NEUTRAL_CORR
        one_eyed = [b for b in blinks if b.one_eyed]
        feats = {
            "blink_rate_per_min": float(rate),
            "mean_blink_s": float(np.mean([b.duration for b in blinks])) if blinks else NEUTRAL_BLINK_S,
            "ear_std": float(both.std() / max(float(np.median(both)), 1e-6)),
            "left_right_corr": corr,
            "one_eyed_frac": float(len(one_eyed) / len(blinks)) if blinks else 0.0,
            "n_blinks": float(len(blinks)),
            "track_s": float(duration),
            "assessed": 1.0,
        }
        step = float(np.median(np.diff(t)))
        sampling = f"analysed at about {1 / step:.0f} frames per second, so short blinks can be missed"
        ev: list[Evidence] = []
        score = BASE_SCORE
        if not blinks and duration >= LONG_TRACK_S:
            score = NO_BLINK_SCORE
            ev.append(
                Evidence(
                    "no_blinks",
                    f"Face {tid}, {track.start_t:.1f}–{track.end_t:.1f} s: "
                    f"the person did not blink once in {duration:.0f} s "
                    f"(people blink about {HUMAN_RATE_LOW:.0f}–{HUMAN_RATE_HIGH:.0f} times a minute; {sampling}, "
                    "so this is a weak cue).",
                    NO_BLINK_SCORE,
                    track.start_t,
                    track.end_t,
                    tid,
                    int(frames[0]),
                    int(frames[-1]),
                )
            )
        elif blinks and rate < HUMAN_RATE_LOW / 2 and duration >= LONG_TRACK_S:
            score = LOW_RATE_SCORE
        if len(blinks) >= 2 and len(one_eyed) / len(blinks) > 0.5:
            score = max(score, ONE_EYED_SCORE)
        for b in one_eyed:
            eye = b.one_eyed
            other = "right" if eye == "left" else "left"
            ev.append(
                Evidence(
                    "one_eyed_blink",
                    f"Face {tid}, {b.t_start:.1f}–{b.t_end:.1f} s: "
                    f"only the {eye} eye closed while the {other} eye stayed open "
                    "(a wink is human, but generated faces sometimes move each eye on its own).",
                    0.3 if len(one_eyed) < 2 else 0.5,
                    b.t_start,
                    b.t_end,
                    tid,
                    b.frame_start,
                    b.frame_end,
                )
            )
        note = (f"Face {tid} blinked {len(blinks)} time{'s' if len(blinks) != 1 else ''} in {duration:.0f} s "
                f"({rate:.0f} a minute; people blink about {HUMAN_RATE_LOW:.0f}–{HUMAN_RATE_HIGH:.0f}; {sampling}).")
        return TrackScore(tid, _clip01(score), feats), ev, note
