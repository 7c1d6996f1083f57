"""The learned swap detector: an ImageNet-pretrained CNN fine-tuned only on self-blended *real* faces.

Following Self-Blended Images (Shiohara & Yamasaki, CVPR 2022) and Face X-ray
(Li et al., CVPR 2020), the network never saw a deepfake: it learned the
traces of pasting a face into a frame from pseudo-fakes made by blending real
faces with transformed copies of themselves (``unmask.learned``). It scores up
to 16 whole-face views per track in one batch; its class-activation map says
which part of the face raised the score, in words and as heatmaps.
Weights ship with the package (``models/blend_cnn.onnx`` + manifest); when
they are absent the analyzer is skipped, never faked. Older experimental
models (eye-aligned BlendNet, the outline-strip PolarNet) still load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from unmask.analyzers.base import Analyzer, flagged_spans
from unmask.faces.align import align_face, face_view
from unmask.faces.regions import LEFT_BROW, LEFT_EYE, MOUTH, NOSE, RIGHT_BROW, RIGHT_EYE, oval_polygon
from unmask.learned.polar import heat_on_face, sector_name
from unmask.learned.runtime import top_mean
from unmask.types import AnalyzerResult, Evidence, FaceObs, FaceTrack, Heatmap, MediaContext, Need, TrackScore

if TYPE_CHECKING:  # loaded lazily: onnxruntime starts only when the analyzer loads
    from unmask.learned.runtime import BlendModel

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


class BlendCNNAnalyzer(Analyzer):
    name = "blend_cnn"
    version = "1"
    needs = frozenset({Need.FACES, Need.LANDMARKS})
    checks: ClassVar[str] = "whether a network trained on self-blended real faces finds the traces of a pasted face"
    feature_words: ClassVar[dict[str, str]] = {
        "prob": "blend-detector probability that the face was pasted in",
        "prob_top": "blend-detector probability on the most suspicious quarter of frames",
        "boundary_peak": "strength of the predicted blending boundary",
        "frac_flagged": "share of frames in which the swap detector sees a pasted face",
    }
    suspect_when: ClassVar[dict[str, int]] = {"prob": 1, "prob_top": 1, "boundary_peak": 1, "frac_flagged": 1}

    def __init__(self, model: BlendModel | None = None) -> None:
        self._model = model

    def load(self) -> None:
        """Load the shipped weights if there are any (verified against their sha256)."""
        if self._model is None:
            from unmask.learned.runtime import BlendModel

            self._model = BlendModel()
        if self._model.available:
            self._model.load()

    def weights_sha256(self) -> str | None:
        if self._model is None or not self._model.available:
            return None
        return str(self._model.manifest.get("sha256") or "") or None

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        if self._model is None:
            self.load()
        assert self._model is not None
        if not self._model.available:
            return self.skipped("no trained blend-detector weights are shipped with this installation")
        tracks: list[TrackScore] = []
        evidence: list[Evidence] = []
        heatmaps: list[Heatmap] = []
        where: dict[int, str] = {}
        for tr in ctx.tracks:
            scored = self._track(tr)
            if scored is None:
                continue
            ts, ev, hm, where[tr.id] = scored
            tracks.append(ts)
            evidence += ev
            heatmaps += hm
        if not tracks:
            return self.skipped("no face could be aligned for the blend detector")
        worst = max(tracks, key=lambda t: t.score)
        if getattr(self._model, "view", False):
            n = len(worst.per_frame)
            k = sum(1 for _, p in worst.per_frame if p >= EVIDENCE_LEVEL)
            if k:
                expl = (f"Face {worst.track_id}: the learned swap detector (trained only on real faces and pastes "
                        f"it made itself) sees the traces of a pasted face in {k} of {n} frames, strongest "
                        f"{where[worst.track_id]} (probability {worst.score:.2f} on its most suspicious frames).")
            else:
                expl = ("The learned swap detector sees no clear traces of a pasted face in any frame it scored "
                        f"(highest probability {max(p for t in tracks for _, p in t.per_frame):.2f}).")
            return self.ok(tracks, evidence, expl, heatmaps=heatmaps)
        if worst.score >= EVIDENCE_LEVEL:
            expl = (f"Face {worst.track_id}: a network trained to spot pasted faces finds blending traces "
                    f"(probability {worst.score:.2f} on its most suspicious frames).")
        else:
            expl = ("A network trained to spot pasted faces finds no clear blending traces "
                    f"(highest probability {worst.score:.2f}).")
        return self.ok(tracks, evidence, expl, heatmaps=heatmaps)

    def _inputs(self, track: FaceTrack) -> tuple[list[FaceObs], list[NDArray[Any]], list[NDArray[Any]]]:
        """The scored observations, the faces the model reads (views or eye-aligned) and their landmarks."""
        assert self._model is not None
        picked: list[FaceObs] = []
        faces: list[NDArray[Any]] = []
        marks: list[NDArray[Any]] = []
        view = bool(getattr(self._model, "view", False))
        for o in _evenly(track.with_landmarks, FACES_PER_TRACK):
            a = face_view(o, self._model.view_size, self._model.view_zoom) if view else align_face(o, ALIGN_SIZE)
            lm = o.landmarks_in_crop()
            if a is not None and lm is not None:
                picked.append(o)
                faces.append(a.image)
                marks.append(a.map_points(lm))
        return picked, faces, marks

    def _track(self, track: FaceTrack) -> tuple[TrackScore, list[Evidence], list[Heatmap], str] | None:
        """The track's score and features, its flagged spans, heatmaps of its worst frames, and where
        on the face its most suspicious frame was flagged (view models; "" otherwise)."""
        assert self._model is not None
        picked, faces, marks = self._inputs(track)
        if not faces:
            return None
        prob, maps = self._model.predict(np.stack(faces), np.stack(marks))
        prob = np.clip(prob.astype(np.float64), 0.0, 1.0)
        view = bool(getattr(self._model, "view", False))
        peak = np.array([float(np.percentile(m, 99)) for m in maps])
        feats = {"prob_med": float(np.median(prob)), "prob_top": top_mean(prob)}
        if view:
            feats["frac_flagged"] = float(np.mean(prob >= EVIDENCE_LEVEL))
        else:
            feats["boundary_peak_med"] = float(np.median(peak))
        rows = list(zip(picked, prob.tolist()))
        ts = TrackScore(track.id, top_mean(prob), feats, tuple((o.t, float(p)) for o, p in rows))
        ev = []
        # 16 frames spread over a long track are seconds apart: a gap only splits a span when it is
        # clearly longer than the spacing of the scored frames
        spacing = float(np.median(np.diff([o.t for o in picked]))) if len(picked) > 1 else 0.0
        spans = flagged_spans(rows, lambda r: r[0].t, lambda r: r[1], EVIDENCE_LEVEL, max(SPAN_GAP_S, 1.5 * spacing))
        for span in sorted(spans, key=lambda s: -max(r[1] for r in s))[:MAX_EVIDENCE_PER_TRACK]:
            t0, t1 = span[0][0].t, span[-1][0].t
            when = f"{t0:.1f} s" if t1 - t0 < 0.05 else f"{t0:.1f}–{t1:.1f} s"
            p = float(np.median([r[1] for r in span]))
            top = max(span, key=lambda r: r[1])
            i = next(j for j, o in enumerate(picked) if o is top[0])
            if view:
                region = cam_region(maps[i], marks[i], faces[i].shape[0], self._model.view_zoom, self._crop_zoom())
                where = f"strongest {region}"
                scored_here = sum(1 for o in picked if t0 <= o.t <= t1)
                detail = (f"Face {track.id}, {when}: the learned swap detector sees the traces of a pasted face, "
                          f"{where}, in {len(span)} of the {scored_here} frames it scored there "
                          f"(median probability {p:.2f}).")
            else:
                where = "around the face"
                if self._model.polar:  # where along the outline the span's most suspicious frame's seam map peaks
                    where = f"strongest along {sector_name(int(np.argmax(maps[i].max(axis=0))), maps[i].shape[1])}"
                detail = (f"Face {track.id}, {when}: a network trained to spot pasted faces finds blending traces "
                          f"{where} (probability {p:.2f}).")
            ev.append(Evidence(
                cue="learned_blend", detail=detail, strength=float(np.clip(p, 0.0, 1.0)),
                t_start=t0, t_end=t1, track_id=track.id,
                frame_start=span[0][0].frame_index, frame_end=span[-1][0].frame_index,
            ))
        worst_at = ""
        if view:
            i = int(np.argmax(prob))
            worst_at = cam_region(maps[i], marks[i], faces[i].shape[0], self._model.view_zoom, self._crop_zoom())
        hms: list[Heatmap] = []
        if self._model.polar or view:
            for i in np.argsort(-prob)[:HEATMAPS_PER_TRACK]:
                if prob[i] < EVIDENCE_LEVEL:
                    break
                if view:
                    shown, heat = cam_on_view(faces[i], maps[i], self._model.view_zoom, self._crop_zoom())
                    caption = "bright: the parts of the face that raised the learned swap detector's score"
                else:
                    shown, heat = faces[i], heat_on_face(maps[i], marks[i], faces[i].shape[:2])
                    caption = "bright: where along the face outline the network saw the edge of a pasted face"
                hms.append(Heatmap(track.id, picked[i].frame_index, picked[i].t, shown, heat, float(prob[i]), caption))
        return ts, ev, hms, worst_at

    def _crop_zoom(self) -> float:
        assert self._model is not None
        return float(self._model.manifest["input"].get("crop_zoom", 1.3))


#: where a class-activation peak lies, by the nearest landmark's part of the face
_PARTS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("around the mouth", MOUTH), ("around the eyes", LEFT_EYE + RIGHT_EYE), ("at the brows", LEFT_BROW + RIGHT_BROW),
    ("on the nose", NOSE),
)


def cam_region(cam: NDArray[Any], view_marks: NDArray[Any], view_side: int, view_zoom: float, crop_zoom: float) -> str:
    """Plain words for where the map ``cam`` (over the centre crop of a view) peaks: "along the jaw", ...

    ``view_marks`` are the landmarks in view pixels; the crop is the view's centre at ``crop_zoom``.
    """
    h, w = cam.shape
    r, c = np.unravel_index(int(np.argmax(cam)), cam.shape)
    side = view_side * crop_zoom / view_zoom
    off = (view_side - side) / 2.0
    pt = np.array([off + (c + 0.5) / w * side, off + (r + 0.5) / h * side])
    xy = np.asarray(view_marks, np.float64)[:, :2]
    oval = oval_polygon(xy).astype(np.float32)
    inside = cv2.pointPolygonTest(oval, (float(pt[0]), float(pt[1])), True)  # > 0 inside, pixels
    scale = float(np.ptp(oval[:, 0])) or 1.0
    if inside < 0.12 * scale:  # on or near the outline: where a seam runs
        nose_y = float(xy[list(NOSE), 1].mean())
        if pt[1] > nose_y:
            return "along the jaw and chin"
        brow_y = float(xy[list(LEFT_BROW + RIGHT_BROW), 1].mean())
        if pt[1] < brow_y:
            return "along the forehead and hairline"
        return "along the side of the face, " + ("left" if pt[0] < float(xy[:, 0].mean()) else "right") + " (as seen)"
    best, name = np.inf, "on the cheeks"
    for label, idx in _PARTS:
        d = float(np.min(np.linalg.norm(xy[list(idx)] - pt, axis=1)))
        if d < best:
            best, name = d, label
    return name if best < 0.12 * scale else "on the cheeks"


def cam_on_view(
    view: NDArray[Any], cam: NDArray[Any], view_zoom: float, crop_zoom: float
) -> tuple[NDArray[Any], NDArray[Any]]:
    """(the centre crop the network read, the class-activation map over it as 0..1), for a report picture."""
    side = view.shape[0]
    c = int(round(side * crop_zoom / view_zoom))
    o = (side - c) // 2
    shown = np.ascontiguousarray(view[o : o + c, o : o + c])
    heat = cv2.resize(np.asarray(cam, np.float32), (c, c), interpolation=cv2.INTER_CUBIC)
    return shown, np.clip(heat, 0.0, 1.0).astype(np.float32)
