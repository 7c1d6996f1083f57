"""One-photo animation: does the skin's texture stay fixed while the face moves?

Talking-head generators (SadTalker, AniPortrait, EDTalk, ...) make every frame from one photo, so
there is no pasted seam for ``blend_cnn`` to find. Undo the face's motion over a 2-second window
(warp each view back onto the middle one's landmarks) and an animated face is left nearly
unchanged, while real skin changes with light, expression, sensor and codec noise
(:mod:`unmask.learned.animation_cues`). A logistic head trained on pseudo-fakes made from real
clips only (:mod:`unmask.learned.animation_head`) turns each window's cues into a probability; a
track's score is the mean over its windows, the video's is its most suspicious track's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from unmask.analyzers.base import Analyzer, flagged_spans
from unmask.faces.align import face_view
from unmask.learned.animation_cues import BadCueInput, window_cues, windows
from unmask.types import AnalyzerResult, Evidence, FaceObs, FaceTrack, MediaContext, Need, TrackScore

if TYPE_CHECKING:  # loaded lazily: the model starts only when the analyzer loads
    from unmask.learned.animation_head import AnimationHead

VIEW_SIZE = 256  # the views the head was trained on: 256 px whole-face views at zoom 1.5, 4 a second
VIEW_ZOOM = 1.5
STEP_S = 0.25  # 4 views a second
MIN_STEP_S = 0.2  # a sampled frame closer than this to the last kept view is skipped
MAX_GAP_S = 0.45  # a larger gap (a missing mesh, a burst boundary) ends a run of views
WINDOW = 8  # views per window (2 s)
STRIDE = 4  # windows start 1 s apart
MAX_WINDOWS = 12  # per track, evenly spaced: bounds the cost on long videos
MAX_EVIDENCE_PER_TRACK = 2
MIN_FACE_PX = 64  # as in training; the cues read skin texture, and a smaller face is mostly upscaling


def _runs(obs: tuple[FaceObs, ...]) -> list[list[FaceObs]]:
    """Observations thinned to about 4 a second, split where the gap is too long or the segment changes."""
    runs: list[list[FaceObs]] = []
    for o in obs:
        if runs and o.segment == runs[-1][-1].segment and o.t - runs[-1][-1].t < MIN_STEP_S:
            continue
        if runs and o.segment == runs[-1][-1].segment and o.t - runs[-1][-1].t <= MAX_GAP_S:
            runs[-1].append(o)
        else:
            runs.append([o])
    return [r for r in runs if len(r) >= WINDOW]


def track_windows(track: FaceTrack) -> list[list[FaceObs]]:
    """The track's windows of WINDOW views at ~4 fps, at most MAX_WINDOWS, evenly spaced."""
    obs = tuple(o for o in track.with_landmarks if o.size >= MIN_FACE_PX)
    out = [run[a:b] for run in _runs(obs) for a, b in windows(len(run), WINDOW, STRIDE)]
    if len(out) > MAX_WINDOWS:
        idx = np.linspace(0, len(out) - 1, MAX_WINDOWS).round().astype(int)
        out = [out[i] for i in sorted(set(idx.tolist()))]
    return out


class AnimationAnalyzer(Analyzer):
    name = "animation"
    version = "1"
    needs = frozenset({Need.FACES, Need.LANDMARKS})
    checks: ClassVar[str] = ("whether the skin's texture stays fixed while the face moves, as when one photo is "
                             "animated into a talking head")
    feature_words: ClassVar[dict[str, str]] = {
        "prob_mean": "talking-head detector probability that the face was animated from one photo",
        "frac_frozen": "share of 2-second windows in which the skin's texture stays fixed while the face moves",
    }
    suspect_when: ClassVar[dict[str, int]] = {"prob_mean": 1, "frac_frozen": 1}

    def __init__(self, head: AnimationHead | None = None) -> None:
        self._head = head

    def load(self) -> None:
        if self._head is None:
            from unmask.learned.animation_head import AnimationHead

            self._head = AnimationHead.load()

    def weights_sha256(self) -> str | None:
        return getattr(self._head, "sha256", None) or None

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        if self._head is None:
            self.load()
        tracks: list[TrackScore] = []
        evidence: list[Evidence] = []
        for tr in ctx.tracks:
            scored = self._track(tr)
            if scored is not None:
                tracks.append(scored[0])
                evidence += scored[1]
        if not tracks:
            return self.skipped(f"no face was seen for {WINDOW * STEP_S:.0f} s in a row with a mesh "
                                f"and at least {MIN_FACE_PX} px")
        worst = max(tracks, key=lambda t: t.score)
        n = len(worst.per_frame)
        k = round(worst.features["frac_frozen"] * n)
        if k:
            expl = (f"Face {worst.track_id}: in {k} of {n} two-second windows the skin's texture stays almost fixed "
                    f"while the face moves, as when one photo is animated into a talking head (mean probability "
                    f"{worst.score:.2f}).")
        else:
            expl = ("In every two-second window it measured, the skin's texture changes with the face's motion as "
                    f"in real footage (highest mean probability of animation {worst.score:.2f}).")
        return self.ok(tracks, evidence, expl)

    def _track(self, track: FaceTrack) -> tuple[TrackScore, list[Evidence]] | None:
        assert self._head is not None
        rows: list[tuple[list[FaceObs], NDArray[Any]]] = []
        views: dict[int, tuple[NDArray[Any], NDArray[Any]] | None] = {}
        for win in track_windows(track):
            frames, marks = [], []
            for o in win:
                if id(o) not in views:
                    a = face_view(o, VIEW_SIZE, VIEW_ZOOM)
                    lm = o.landmarks_in_crop()
                    views[id(o)] = None if a is None or lm is None else (a.image, a.map_points(lm))
                v = views[id(o)]
                if v is None:
                    break
                frames.append(v[0])
                marks.append(v[1])
            if len(frames) < len(win):
                continue
            try:
                rows.append((win, window_cues(np.stack(frames), np.stack(marks)).vector()))
            except BadCueInput:
                continue
        if not rows:
            return None
        prob = self._head.predict(np.stack([x for _, x in rows]))
        thr = self._head.threshold
        mid = [w[len(w) // 2] for w, _ in rows]
        feats = {"prob_mean": float(prob.mean()), "frac_frozen": float(np.mean(prob >= thr))}
        ts = TrackScore(track.id, float(prob.mean()), feats, tuple((o.t, float(p)) for o, p in zip(mid, prob)))
        spans = flagged_spans(list(zip(rows, prob.tolist())), lambda r: r[0][0][0].t, lambda r: r[1], thr, 1.5)
        ev = []
        for span in sorted(spans, key=lambda s: -float(np.mean([r[1] for r in s])))[:MAX_EVIDENCE_PER_TRACK]:
            first, last = span[0][0][0], span[-1][0][0]
            t0, t1 = first[0].t, last[-1].t
            p = float(np.mean([r[1] for r in span]))
            ev.append(Evidence(
                cue="frozen_texture",
                detail=(f"Face {track.id}, {t0:.1f}–{t1:.1f} s: the skin's texture stays almost fixed while the face "
                        f"moves, as when one photo is animated ({len(span)} of {len(rows)} two-second windows, "
                        f"mean probability {p:.2f})."),
                strength=float(np.clip(p, 0.0, 1.0)), t_start=t0, t_end=t1, track_id=track.id,
                frame_start=first[0].frame_index, frame_end=last[-1].frame_index,
            ))
        return ts, ev
