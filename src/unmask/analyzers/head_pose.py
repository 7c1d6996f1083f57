"""Head-pose cue: do the central face and the whole face point the same way?

Yang, Li & Lyu (ICASSP 2019, "Exposing deep fakes using inconsistent head
poses"): a face swap replaces the central face (eyes, brows, nose, mouth) but
keeps the target's outline, so a head pose estimated from the central
landmarks alone disagrees with one estimated from the whole face. We solve
both poses with ``cv2.solvePnP`` against mediapipe's canonical 3D face
(Apache-2.0, shipped as ``models/canonical_face.npy``) and a pinhole camera
with focal length = image width. Strong on early swaps, weak on modern ones
(field notes): treat it as one cue among several.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import cv2
import numpy as np
from numpy.typing import NDArray

from unmask.analyzers.base import Analyzer, flagged_spans
from unmask.faces.regions import CENTRAL, FACE_OVAL, load_canonical_face
from unmask.types import AnalyzerResult, Evidence, FaceObs, FaceTrack, MediaContext, Need, TrackScore

#: below this yaw/roll disagreement (degrees) the two poses agree as well as landmark noise allows
#: on real faces (real videos of the development set: 0.6-2.8 deg median, up to 3.7 deg p90)
TURN_NORMAL_DEG = 4.0
#: each further this-many degrees takes the squash one e-fold closer to 1
TURN_SCALE_DEG = 4.0
#: frame-to-frame wobble of the disagreement around the track's own median that landmark jitter
#: explains on real video (development set: p90 1.1-3.3 deg), and its e-fold scale
WOBBLE_NORMAL_DEG = 3.0
WOBBLE_SCALE_DEG = 3.0
EVIDENCE_LEVEL = 0.5
SPAN_GAP_S = 1.0
MAX_EVIDENCE_PER_TRACK = 3
EPS = 1e-9
#: canonical model (y up, z toward viewer) -> OpenCV camera axes (y down, z away): 180 deg about x
_TO_CV = np.array([1.0, -1.0, -1.0])


def _rotation_angle_deg(r1: NDArray[Any], r2: NDArray[Any]) -> float:
    """Angle of the rotation taking ``r2`` to ``r1`` (both 3x3), in degrees."""
    c = (np.trace(r1 @ r2.T) - 1.0) / 2.0
    return float(math.degrees(math.acos(float(np.clip(c, -1.0, 1.0)))))


def _direction_angle_deg(r1: NDArray[Any], r2: NDArray[Any]) -> float:
    """Angle between the directions the face points in (the model's forward axis), in degrees."""
    c = float(np.dot(r1[:, 2], r2[:, 2]))
    return float(math.degrees(math.acos(float(np.clip(c, -1.0, 1.0)))))


class PoseSolver:
    """Solves the central-face and whole-face head poses for one set of landmarks."""

    def __init__(self, model: NDArray[Any]) -> None:
        self.model = model * _TO_CV
        self.central = np.array(CENTRAL)
        self.whole = np.array(sorted(set(CENTRAL) | set(FACE_OVAL)))

    def _solve(self, idx: NDArray[Any], xy: NDArray[Any], cam: NDArray[Any],
               guess: tuple[NDArray[Any], NDArray[Any]] | None) -> tuple[NDArray[Any], NDArray[Any]] | None:
        obj = np.ascontiguousarray(self.model[idx], dtype=np.float64)
        img = np.ascontiguousarray(xy[idx], dtype=np.float64)
        dist = np.zeros(4)
        if guess is None:
            ok, rvec, tvec = cv2.solvePnP(obj, img, cam, dist, flags=cv2.SOLVEPNP_EPNP)
            if not ok:
                return None
        else:
            rvec, tvec = guess[0].copy(), guess[1].copy()
        ok, rvec, tvec = cv2.solvePnP(obj, img, cam, dist, rvec, tvec, useExtrinsicGuess=True,
                                      flags=cv2.SOLVEPNP_ITERATIVE)
        if not ok or not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))) or tvec[2, 0] <= 0:
            return None
        return rvec, tvec

    def features(self, xy: NDArray[Any], image_size: tuple[int, int]) -> dict[str, float] | None:
        """Pose disagreement between central and whole face, or None when a pose cannot be solved.

        angle: rotation between the two poses (deg); yaw/pitch/roll: its parts about the
        vertical, horizontal and viewing axes (deg, absolute); direction: angle between the two facing
        directions (deg); shift: distance between the two head positions / head distance;
        outline_err: whole-face outline reprojected with the central pose, misfit / face size.
        """
        w, h = image_size
        f = float(w)
        cam = np.array([[f, 0, w / 2.0], [0, f, h / 2.0], [0, 0, 1.0]])
        whole = self._solve(self.whole, xy, cam, None)
        if whole is None:
            return None
        central = self._solve(self.central, xy, cam, whole)
        if central is None:
            return None
        rw, _ = cv2.Rodrigues(whole[0])
        rc, _ = cv2.Rodrigues(central[0])
        tw, tc = whole[1].ravel(), central[1].ravel()
        oval = np.array(FACE_OVAL)
        proj, _ = cv2.projectPoints(self.model[oval], central[0], central[1], cam, np.zeros(4))
        obs = xy[oval]
        size = math.sqrt(max(EPS, float(np.prod(obs.max(axis=0) - obs.min(axis=0)))))
        err = float(np.median(np.linalg.norm(proj.reshape(-1, 2) - obs, axis=1))) / size
        pitch, yaw, roll = cv2.RQDecomp3x3(rc @ rw.T)[0]
        return {
            "angle": _rotation_angle_deg(rc, rw),
            "yaw": abs(float(yaw)),
            "pitch": abs(float(pitch)),
            "roll": abs(float(roll)),
            "direction": _direction_angle_deg(rc, rw),
            "shift": float(np.linalg.norm(tc - tw) / (np.linalg.norm(tw) + EPS)),
            "outline_err": err,
        }


def _squash(excess: float) -> float:
    return float(1.0 - math.exp(-max(0.0, excess)))


def frame_score(f: dict[str, float], track_angle: float | None = None) -> float:
    """Per-frame suspicion, ``1 - exp(-excess)`` of the larger of two identity-robust excesses.

    turn: the yaw and roll part of the disagreement beyond ``TURN_NORMAL_DEG``. Pitch is left
    out (it stays a feature): the generic 3D model's nose and chin depth differ from a given
    person's, which tilts the two poses apart about the horizontal axis on real faces (16 deg
    on the astronaut photo) while leaving yaw and roll, symmetric in the face, nearly untouched.
    wobble (video only, given ``track_angle``, the track's median disagreement): how far this
    frame's disagreement strays from the person's own constant offset; a swap re-rendered
    frame by frame strays, a real face's offset stays put.
    """
    turn = _squash((math.hypot(f["yaw"], f["roll"]) - TURN_NORMAL_DEG) / TURN_SCALE_DEG)
    if track_angle is None:
        return turn
    wobble = _squash((abs(f["angle"] - track_angle) - WOBBLE_NORMAL_DEG) / WOBBLE_SCALE_DEG)
    return max(turn, wobble)


class HeadPoseAnalyzer(Analyzer):
    """Central-face vs whole-face head pose disagreement (Yang, Li & Lyu 2019)."""

    name = "head_pose"
    version = "1.0"
    needs = frozenset({Need.FACES, Need.LANDMARKS})
    checks = "whether the head pose given by the eyes, nose and mouth agrees with the one given by the face outline"
    feature_words: ClassVar[dict[str, str]] = {
        "angle": "angle between the head pose of the inner face and that of the face outline",
        "yaw": "left-right turn difference between inner-face and outline poses",
        "pitch": "up-down tilt difference between inner-face and outline poses",
        "roll": "sideways tilt difference between inner-face and outline poses",
        "direction": "angle between where the inner face and the outline point",
        "shift": "offset between the head positions given by the inner face and the outline",
        "outline_err": "misfit of the face outline under the inner face's pose",
        "angle_dev": "frame-to-frame wobble of the inner-face/outline pose disagreement",
    }
    suspect_when: ClassVar[dict[str, int]] = {
        k: 1 for k in ("angle", "yaw", "pitch", "roll", "direction", "shift", "outline_err", "angle_dev")
    }

    def __init__(self) -> None:
        self._solver: PoseSolver | None = None

    def load(self) -> None:
        self._load_solver()

    def _load_solver(self) -> PoseSolver:
        if self._solver is None:
            self._solver = PoseSolver(load_canonical_face())
        return self._solver

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        solver = self._load_solver()
        size = ctx.analysed_size
        scores: list[TrackScore] = []
        evidence: list[Evidence] = []
        for track in ctx.tracks:
            res = self._track(solver, track, size)
            if res is not None:
                scores.append(res[0])
                evidence.extend(res[1])
        if not scores:
            return self.skipped("no face had usable landmarks to estimate head pose")
        worst = max(scores, key=lambda s: s.score)
        a = math.hypot(worst.features["yaw_med"], worst.features["roll_med"])
        if worst.score >= EVIDENCE_LEVEL:
            expl = (f"Face {worst.track_id}: the head pose given by the eyes, nose and mouth does not follow "
                    "the pose of the face outline, as when a face is swapped onto another head. Side views, "
                    "very small faces and unusual face shapes can also cause this.")
        elif evidence:  # agreement on the median frame, but not everywhere: never "no sign" above findings
            spans = len(evidence)
            expl = (f"The head pose from the eyes, nose and mouth agrees with the face outline on the median frame "
                    f"(turned alike within {a:.0f}°), but not in {spans} stretch{'es' if spans > 1 else ''} "
                    "(listed as findings), where the central face's pose departs from the outline's.")
        else:
            expl = (f"The head pose from the eyes, nose and mouth agrees with the face outline "
                    f"(turned alike within {a:.0f}° on the median frame); no sign of a swapped central face.")
        return self.ok(scores, evidence, expl)

    def _track(
        self, solver: PoseSolver, track: FaceTrack, size: tuple[int, int]
    ) -> tuple[TrackScore, list[Evidence]] | None:
        solved: list[tuple[FaceObs, dict[str, float]]] = []
        for obs in track.with_landmarks:
            if obs.landmarks is None:  # with_landmarks guarantees it; this narrows the type
                continue
            f = solver.features(obs.landmarks[:, :2].astype(np.float64), size)
            if f is not None and all(math.isfinite(v) for v in f.values()):
                solved.append((obs, f))
        if not solved:
            return None
        ang = np.array([f["angle"] for _, f in solved])
        centre = float(np.median(ang)) if len(solved) > 1 else None
        rows = [(o, f, frame_score(f, centre)) for o, f in solved]
        feats: dict[str, float] = {}
        for key in ("angle", "yaw", "pitch", "roll", "direction", "shift", "outline_err"):
            vals = np.array([r[1][key] for r in rows])
            feats[f"{key}_med"] = float(np.median(vals))
            feats[f"{key}_p90"] = float(np.percentile(vals, 90))
        # frame-to-frame wobble of the disagreement: a person's own face-shape offset is constant,
        # a swap re-rendered every frame is not (0 for a still)
        feats["angle_dev_p90"] = float(np.percentile(np.abs(ang - np.median(ang)), 90))
        per = np.array([r[2] for r in rows])
        score = float(np.clip(0.5 * np.median(per) + 0.5 * np.percentile(per, 90), 0.0, 1.0))
        ts = TrackScore(track.id, score, feats, tuple((r[0].t, r[2]) for r in rows))
        return ts, self._evidence(track.id, rows, centre)

    def _evidence(self, track_id: int, rows: list[tuple[FaceObs, dict[str, float], float]],
                  centre: float | None) -> list[Evidence]:
        spans = flagged_spans(rows, lambda r: r[0].t, lambda r: r[2], EVIDENCE_LEVEL, SPAN_GAP_S)
        out: list[Evidence] = []
        for span in sorted(spans, key=lambda s: -max(r[2] for r in s))[:MAX_EVIDENCE_PER_TRACK]:
            t0, t1 = span[0][0].t, span[-1][0].t
            when = f"{t0:.1f} s" if t1 - t0 < 0.05 else f"{t0:.1f}–{t1:.1f} s"
            turn = float(np.median([math.hypot(r[1]["yaw"], r[1]["roll"]) for r in span]))
            turn_score = _squash((turn - TURN_NORMAL_DEG) / TURN_SCALE_DEG)
            if centre is not None and turn_score < EVIDENCE_LEVEL:
                drift = float(np.median([abs(r[1]["angle"] - centre) for r in span]))
                cue = "head_pose_drift"
                what = (f"the pose given by the eyes, nose and mouth drifts about {drift:.0f}° away from the "
                        "pose of the face outline, more than elsewhere in the clip, as when a swapped face "
                        "is rendered frame by frame")
            else:
                cue = "head_pose_mismatch"
                what = (f"the eyes, nose and mouth are turned about {turn:.0f}° differently from the outline "
                        "of the face, as when a face is swapped onto another head")
            out.append(Evidence(
                cue=cue,
                detail=f"Face {track_id}, {when}: {what}.",
                strength=float(np.clip(np.median([r[2] for r in span]), 0.0, 1.0)),
                t_start=t0, t_end=t1, track_id=track_id,
                frame_start=span[0][0].frame_index, frame_end=span[-1][0].frame_index,
            ))
        return out
