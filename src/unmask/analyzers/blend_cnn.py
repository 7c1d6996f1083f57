"""Learned blend-artifact detector: a small CNN trained only on self-blended *real* faces.

Following Self-Blended Images (Shiohara & Yamasaki, CVPR 2022) and Face X-ray
(Li et al., CVPR 2020), the network never saw a deepfake: it learned the
traces of pasting a face into a frame from pseudo-fakes made by blending real
faces with transformed copies of themselves (``unmask.learned``). It scores a
few aligned faces per track and predicts where the blending boundary runs.
Weights ship with the package (``models/blend_cnn.onnx`` + manifest); when
they are absent the analyzer is skipped, never faked.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from unmask.analyzers.base import Analyzer, flagged_spans
from unmask.faces.align import align_face
from unmask.learned.polar import heat_on_face, sector_name
from unmask.types import AnalyzerResult, Evidence, FaceObs, FaceTrack, Heatmap, MediaContext, Need, TrackScore

FACES_PER_TRACK = 16  # aligned faces scored per track, evenly spaced (batching keeps this cheap)
ALIGN_SIZE = 256  # aligned crop side before the model's own resize
TOP_FRACTION = 0.25  # a track's score is the mean of its most suspicious quarter of frames
EVIDENCE_LEVEL = 0.5
SPAN_GAP_S = 1.0
MAX_EVIDENCE_PER_TRACK = 3
HEATMAPS_PER_TRACK = 2  # the most suspicious frames get a picture of where the seam was seen


def _evenly(obs: tuple[FaceObs, ...], n: int) -> list[FaceObs]:
    if len(obs) <= n:
        return list(obs)
    idx = np.linspace(0, len(obs) - 1, n).round().astype(int)
    return [obs[i] for i in sorted(set(idx.tolist()))]


def top_mean(p: np.ndarray, fraction: float = TOP_FRACTION) -> float:
    """Mean of the highest ``fraction`` of values: robust to a few bad frames, sensitive to a swap that flickers."""
    k = max(1, int(round(fraction * len(p))))
    return float(np.mean(np.sort(p)[-k:]))


class BlendCNNAnalyzer(Analyzer):
    name = "blend_cnn"
    version = "1"
    needs = frozenset({Need.FACES, Need.LANDMARKS})
    checks: ClassVar[str] = "whether a network trained on self-blended real faces finds the traces of a pasted face"
    feature_words: ClassVar[dict[str, str]] = {
        "prob": "blend-detector probability that the face was pasted in",
        "prob_top": "blend-detector probability on the most suspicious quarter of frames",
        "boundary_peak": "strength of the predicted blending boundary",
    }
    suspect_when: ClassVar[dict[str, int]] = {"prob": 1, "prob_top": 1, "boundary_peak": 1}

    def __init__(self, model: "BlendModel | None" = None) -> None:  # noqa: F821 - imported lazily
        self._model = model

    def load(self) -> None:
        """Load the shipped weights if there are any (verified against their sha256)."""
        if self._model is None:
            from unmask.learned.runtime import BlendModel

            self._model = BlendModel()
        if self._model.available:
            self._model.load()

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        if self._model is None:
            self.load()
        assert self._model is not None
        if not self._model.available:
            return self.skipped("no trained blend-detector weights are shipped with this installation")
        tracks: list[TrackScore] = []
        evidence: list[Evidence] = []
        heatmaps: list[Heatmap] = []
        for tr in ctx.tracks:
            scored = self._track(tr)
            if scored is None:
                continue
            ts, ev, hm = scored
            tracks.append(ts)
            evidence += ev
            heatmaps += hm
        if not tracks:
            return self.skipped("no face could be aligned for the blend detector")
        worst = max(tracks, key=lambda t: t.score)
        if worst.score >= EVIDENCE_LEVEL:
            expl = (f"Face {worst.track_id}: a network trained to spot pasted faces finds blending traces "
                    f"(probability {worst.score:.2f} on its most suspicious frames).")
        else:
            expl = ("A network trained to spot pasted faces finds no clear blending traces "
                    f"(highest probability {worst.score:.2f}).")
        return self.ok(tracks, evidence, expl, heatmaps=heatmaps)

    def _track(self, track: FaceTrack) -> tuple[TrackScore, list[Evidence], list[Heatmap]] | None:
        assert self._model is not None
        picked: list[FaceObs] = []
        faces: list[np.ndarray] = []
        marks: list[np.ndarray] = []
        for o in _evenly(track.with_landmarks, FACES_PER_TRACK):
            a = align_face(o, ALIGN_SIZE)
            lm = o.landmarks_in_crop()
            if a is not None and lm is not None:
                picked.append(o)
                faces.append(a.image)
                marks.append(a.map_points(lm))
        if not faces:
            return None
        prob, maps = self._model.predict(np.stack(faces), np.stack(marks))
        prob = np.clip(prob.astype(np.float64), 0.0, 1.0)
        peak = np.array([float(np.percentile(m, 99)) for m in maps])
        feats = {
            "prob_med": float(np.median(prob)),
            "prob_top": top_mean(prob),
            "boundary_peak_med": float(np.median(peak)),
        }
        rows = list(zip(picked, prob.tolist()))
        ts = TrackScore(track.id, top_mean(prob), feats, tuple((o.t, float(p)) for o, p in rows))
        ev = []
        spans = flagged_spans(rows, lambda r: r[0].t, lambda r: r[1], EVIDENCE_LEVEL, SPAN_GAP_S)
        for span in sorted(spans, key=lambda s: -max(r[1] for r in s))[:MAX_EVIDENCE_PER_TRACK]:
            t0, t1 = span[0][0].t, span[-1][0].t
            when = f"{t0:.1f} s" if t1 - t0 < 0.05 else f"{t0:.1f}–{t1:.1f} s"
            p = float(np.median([r[1] for r in span]))
            where = "around the face"
            if self._model.polar:  # the span's most suspicious frame: where along the outline its seam map peaks
                top = max(span, key=lambda r: r[1])
                i = next(j for j, o in enumerate(picked) if o is top[0])
                where = f"strongest along {sector_name(int(np.argmax(maps[i].max(axis=0))), maps[i].shape[1])}"
            ev.append(Evidence(
                cue="learned_blend",
                detail=(f"Face {track.id}, {when}: a network trained to spot pasted faces finds blending traces "
                        f"{where} (probability {p:.2f})."),
                strength=float(np.clip(p, 0.0, 1.0)),
                t_start=t0, t_end=t1, track_id=track.id,
                frame_start=span[0][0].frame_index, frame_end=span[-1][0].frame_index,
            ))
        hms: list[Heatmap] = []
        if self._model.polar:
            for i in np.argsort(-prob)[:HEATMAPS_PER_TRACK]:
                if prob[i] < EVIDENCE_LEVEL:
                    break
                heat = heat_on_face(maps[i], marks[i], faces[i].shape[:2])
                hms.append(Heatmap(track.id, picked[i].frame_index, picked[i].t, faces[i], heat, float(prob[i]),
                                   "bright: where along the face outline the network saw the edge of a pasted face"))
        return ts, ev, hms
