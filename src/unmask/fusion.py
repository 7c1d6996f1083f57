"""Fusion and verdict: a calibrated model over the analyzers' features, behind a quality gate.

Each assessable face track gets a probability that it is manipulated from a
logistic model over the analyzers' per-track features (coefficients in
``models/fusion.json``, refit by ``unmask-train fit-fusion``). A person's score
pools their tracks (one face seen in many stretches is measured, not given many
chances), and the video's score is its most suspicious person's, corrected for
how many people were scored: a video of five people has five chances to show a
high score by accident (:func:`several_faces`). Tracks too small or too short to
support a judgement are not scored; when no track is assessable the verdict is
``cannot_assess`` (or ``no_face`` when there was no face at all).
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from unmask.config import GateConfig
from unmask.errors import ModelError
from unmask.types import AnalyzerResult, FaceTrack, Label, MediaContext

#: standardised features are clipped to ±Z_CLIP: one measurement far outside what the model saw (new
#: footage, an odd camera) must not decide a verdict alone. ±3 cross-validated no worse than ±6 (0.68 vs 0.67).
DEFAULT_GATE = GateConfig()
Z_CLIP = 3.0

#: every label, in the order the docs list them (``declared_synthetic`` never comes from the fusion: unmask.rules)
LABELS: tuple[Label, ...] = tuple(Label)


@dataclass(frozen=True)
class FusionModel:
    """Standardise, then logistic regression. A missing feature is read as the real videos' median when the
    model was fitted that way (``missing_fill: real_median``), otherwise as the training mean."""

    version: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    likely_real: float  # score below this -> likely_real
    likely_fake: float  # score at or above this -> likely_fake
    sha256: str = ""
    meta: Mapping[str, object] = field(default_factory=dict)
    #: media kinds the model was validated on; other kinds get ``cannot_assess`` rather than an untested score
    kinds: tuple[str, ...] = ("video", "animation")
    #: each feature's median on the real training videos (for explanations); empty when unknown
    real_median: tuple[float, ...] = ()
    #: the model for still images, fitted and thresholded on photos alone (``still`` in fusion.json); None
    #: while no detector is validated on photos, and stills then get ``cannot_assess``
    still: FusionModel | None = None
    #: (mean, sd) of the real videos' out-of-fold logit scores, for the several-faces correction; None: the
    #: model predates it, and the video's score is its most suspicious track's, as that model was fitted
    real_logit: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ModelError(
                f"fusion model {self.version}: {n} features but "
                f"{len(self.mean)}/{len(self.scale)}/{len(self.coef)} mean/scale/coef"
            )
        if not 0.0 <= self.likely_real <= self.likely_fake <= 1.0:
            raise ModelError(
                f"fusion model {self.version}: thresholds must satisfy 0 <= likely_real <= likely_fake <= 1"
            )
        if self.real_logit is not None and not (math.isfinite(self.real_logit[0]) and self.real_logit[1] > 0):
            raise ModelError(f"fusion model {self.version}: real_logit needs a finite mean and a positive sd")

    @classmethod
    def load(cls, path: str | Path | None = None) -> FusionModel:
        """Load the shipped model (or one at ``path``)."""
        try:
            if path is None:
                raw = resources.files("unmask.models").joinpath("fusion.json").read_bytes()
            else:
                raw = Path(path).read_bytes()
            return cls.from_dict(json.loads(raw), hashlib.sha256(raw).hexdigest())
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"cannot load fusion model {path or 'unmask/models/fusion.json'}: {e}") from None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], sha256: str = "", default_kinds: tuple[str, ...] = ("video", "animation")
                  ) -> FusionModel:
        """The model a fusion.json object describes (its ``still`` block becomes the still-image model)."""
        still = d.get("still")
        return cls(
            version=str(d["version"]),
            features=tuple(d["features"]),
            mean=tuple(float(x) for x in d["mean"]),
            scale=tuple(float(x) for x in d["scale"]),
            coef=tuple(float(x) for x in d["coef"]),
            intercept=float(d["intercept"]),
            likely_real=float(d["thresholds"]["likely_real"]),
            likely_fake=float(d["thresholds"]["likely_fake"]),
            sha256=sha256,
            meta={k: v for k, v in d.items()
                  if k not in ("features", "mean", "scale", "coef", "intercept", "thresholds", "real_median", "still",
                               "real_logit")},
            kinds=tuple(d.get("kinds", default_kinds)),
            real_median=tuple(float(x) for x in d.get("real_median", ())),
            still=cls.from_dict(still, sha256, ("image",)) if isinstance(still, Mapping) else None,
            real_logit=(float(d["real_logit"]["mean"]), float(d["real_logit"]["sd"])) if "real_logit" in d else None,
        )

    def for_kind(self, kind: str) -> FusionModel | None:
        """The model validated for this media kind (videos, or the still-image model), or None."""
        if kind in self.kinds:
            return self
        if self.still is not None and kind in self.still.kinds:
            return self.still
        return None

    def label_for(self, score: float) -> Label:
        """The label a score earns under this model's thresholds."""
        if score >= self.likely_fake:
            return Label.LIKELY_FAKE
        if score < self.likely_real:
            return Label.LIKELY_REAL
        return Label.INCONCLUSIVE

    def typical_real(self, feature: str) -> float | None:
        """The feature's median on real training videos, if the model recorded it."""
        if len(self.real_median) != len(self.features) or feature not in self.features:
            return None
        return self.real_median[self.features.index(feature)]

    @cached_property
    def _fill(self) -> dict[str, float]:
        """What a missing feature is read as, where the model was fitted to read it so (see ``missing_fill``)."""
        if self.meta.get("missing_fill") != "real_median" or len(self.real_median) != len(self.features):
            return {}
        return {f: v for f, v in zip(self.features, self.real_median) if math.isfinite(v)}

    @property
    def read_analyzers(self) -> frozenset[str]:
        """The analyzers with at least one non-zero weight: the ones that can move the score."""
        return frozenset(f.split(".", 1)[0] for f, w in zip(self.features, self.coef) if w != 0.0)

    def weight(self, feature: str) -> float | None:
        """The feature's coefficient on its standardised value (positive: higher values push toward fake)."""
        if feature not in self.features:
            return None
        return self.coef[self.features.index(feature)]

    def predict(self, features: Mapping[str, float]) -> tuple[float, dict[str, float]]:
        """Probability of manipulation and each feature's contribution to the logit."""
        if not self.features:  # the uncalibrated placeholder shipped before the first fit
            return 0.5, {}
        contrib: dict[str, float] = {}
        z = self.intercept
        for name, mu, sd, w in zip(self.features, self.mean, self.scale, self.coef):
            if w == 0.0:  # held at zero by the fit: it does not move the score, so it is not reported as if it did
                continue
            x = features.get(name)
            if x is None or not math.isfinite(x):
                x = self._fill.get(name, mu)
            v = (x - mu) / (sd or 1.0)
            v = float(np.clip(v, -Z_CLIP, Z_CLIP))
            contrib[name] = w * v
            z += w * v
        return 1.0 / (1.0 + math.exp(-z)), contrib


def track_features(results: Sequence[AnalyzerResult], track_id: int) -> dict[str, float]:
    """Every analyzer feature for one track, named ``analyzer.feature``; per-video features included."""
    out: dict[str, float] = {}
    for r in results:
        if r.status != "ok":
            continue
        ts = r.for_track(track_id)
        if ts is not None:
            out.update({f"{r.name}.{k}": v for k, v in ts.features.items()})
        out.update({f"{r.name}.{k}": v for k, v in r.video_features.items()})
    return out


def gate_reason(track: FaceTrack, ctx: MediaContext, g: GateConfig = DEFAULT_GATE) -> str | None:
    """Why a track cannot be assessed, or None when it can."""
    if track.median_size < g.min_face_px:
        return f"face too small ({track.median_size:.0f} px; needs {g.min_face_px:.0f})"
    if not track.with_landmarks:
        return "no face landmarks could be found"
    if not ctx.is_still:
        if len(track) < g.min_track_frames:
            return f"seen in too few frames ({len(track)}; needs {g.min_track_frames})"
        if track.end_t - track.start_t < g.min_track_s:
            return f"on screen too briefly ({track.end_t - track.start_t:.1f} s; needs {g.min_track_s:.1f})"
    return None


@dataclass(frozen=True)
class TrackVerdict:
    track_id: int
    assessable: bool
    gate_reason: str | None
    score: float | None
    contributions: dict[str, float]  # per analyzer, summed logit contributions
    features: dict[str, float] = field(default_factory=dict)  # the fusion's inputs, ``analyzer.feature``
    feature_contributions: dict[str, float] = field(default_factory=dict)  # per feature, logit contribution
    person_id: int | None = None  # None: a person of its own
    n_observations: int = 1  # how many frames it was seen in: its weight among its person's tracks


@dataclass(frozen=True)
class Verdict:
    label: Label
    score: float | None
    likely_real: float
    likely_fake: float
    track_id: int | None  # the most suspicious assessable track
    reasons: tuple[str, ...]
    tracks: tuple[TrackVerdict, ...]
    contributions: dict[str, float]  # the chosen track's, per analyzer

    @property
    def top_track(self) -> TrackVerdict | None:
        return next((t for t in self.tracks if t.track_id == self.track_id), None)


def unvalidated_kind_reason(kind: str) -> str:
    what = "still images" if kind == "image" else f"{kind} files"
    return (f"this version has no validated model for {what}: the individual cues are reported below, "
            "but they are not turned into a verdict")


def decide(ctx: MediaContext, results: Sequence[AnalyzerResult], model: FusionModel,
           gate: GateConfig = DEFAULT_GATE) -> Verdict:
    """Gate, score every assessable track, and label the video by its most suspicious track."""
    th = (model.likely_real, model.likely_fake)
    if not ctx.tracks:
        return Verdict(Label.NO_FACE, None, *th, None, ("no face was found in the analysed frames",), (), {})
    kind_model = model.for_kind(ctx.info.kind)
    if kind_model is None:
        return Verdict(
            Label.CANNOT_ASSESS,
            None,
            *th,
            None,
            (unvalidated_kind_reason(ctx.info.kind),),
            tuple(TrackVerdict(t.id, (why := gate_reason(t, ctx, gate)) is None, why, None, {}) for t in ctx.tracks),
            {},
        )
    model = kind_model
    person_of = ctx.person_ids()
    tvs: list[TrackVerdict] = []
    for tr in ctx.tracks:
        why = gate_reason(tr, ctx, gate)
        if why is not None:
            tvs.append(TrackVerdict(tr.id, False, why, None, {}))
            continue
        tvs.append(score_track(model, tr.id, track_features(results, tr.id), person_of.get(tr.id), len(tr)))
    return verdict_of(model, tvs)


def score_track(model: FusionModel, track_id: int, feats: dict[str, float], person_id: int | None = None,
                n_observations: int = 1) -> TrackVerdict:
    """One assessable track's probability of manipulation, with each analyzer's and feature's contribution."""
    p, contrib = model.predict(feats)
    per_analyzer: dict[str, float] = {}
    for name, c in contrib.items():
        a = name.split(".", 1)[0]
        per_analyzer[a] = per_analyzer.get(a, 0.0) + c
    return TrackVerdict(track_id, True, None, p, per_analyzer, feats, contrib, person_id, max(1, n_observations))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1.0 - 1e-6)
    return math.log(p / (1.0 - p))


def pooled_score(scores: Sequence[float], weights: Sequence[float]) -> float:
    """One face's stretches pooled: the mean of their logits, weighted (by frames seen). A person filmed in many
    stretches is measured more often, not given more chances to look manipulated."""
    z = sum(w * _logit(s) for s, w in zip(scores, weights)) / sum(weights)
    return 1.0 / (1.0 + math.exp(-z))


def several_faces(score: float, n: int, real_logit: tuple[float, float]) -> float:
    """``score``, the most suspicious of ``n`` people's, as the one-person score a real video reaches as often.

    Šidák's correction under a normal model of real videos' logit scores (mean, sd): with ``n`` people a real
    video reaches a one-person tail probability p by chance with probability 1 - (1 - p)^n. ``n`` = 1: unchanged.
    """
    if n <= 1:
        return score
    mu, sd = real_logit
    z = (_logit(score) - mu) / sd
    p1 = 0.5 * math.erfc(z / math.sqrt(2.0))  # upper tail, exact far out where 1 - cdf would round to 0
    pn = -math.expm1(n * math.log1p(-min(p1, 1.0 - 1e-15)))
    z_n = -statistics.NormalDist().inv_cdf(min(max(pn, 1e-300), 1.0 - 1e-15))
    return 1.0 / (1.0 + math.exp(-(mu + sd * z_n)))


def _person_key(t: TrackVerdict) -> int:
    """The track's person id; a track without one is a person of its own (minus its id, never a person's)."""
    return t.person_id if t.person_id is not None else -t.track_id


def person_scores(tvs: Sequence[TrackVerdict]) -> dict[int, tuple[float, TrackVerdict]]:
    """Per person (:func:`_person_key`): the pooled score of its scored tracks and the most suspicious of them."""
    groups: dict[int, list[TrackVerdict]] = {}
    for t in tvs:
        if t.score is not None:
            groups.setdefault(_person_key(t), []).append(t)
    return {pid: (pooled_score([t.score or 0.0 for t in ts], [t.n_observations for t in ts]),
                  max(ts, key=lambda t: (t.score or 0.0, -t.track_id))) for pid, ts in groups.items()}


def verdict_of(model: FusionModel, tvs: Sequence[TrackVerdict]) -> Verdict:
    """Label the video by its most suspicious person (``cannot_assess`` when no face could be scored).

    Models without ``real_logit`` (fitted before the several-faces correction) label it by its most
    suspicious track, as they were fitted and thresholded."""
    th = (model.likely_real, model.likely_fake)
    scored = [t for t in tvs if t.score is not None]
    if not scored:
        reasons = tuple(f"face {t.track_id}: {t.gate_reason}" for t in tvs)
        return Verdict(Label.CANNOT_ASSESS, None, *th, None, reasons, tuple(tvs), {})
    reasons = tuple(f"face {t.track_id} not assessed: {t.gate_reason}" for t in tvs if not t.assessable)
    if model.real_logit is None:
        top = max(scored, key=lambda t: (t.score or 0.0, -t.track_id))
        assert top.score is not None
        return Verdict(model.label_for(top.score), top.score, *th, top.track_id, reasons, tuple(tvs),
                       top.contributions)
    people = person_scores(scored)
    raw, top = max(people.values(), key=lambda v: (v[0], -v[1].track_id))
    score = several_faces(raw, len(people), model.real_logit)
    stretches = sum(1 for t in scored if _person_key(t) == _person_key(top))
    if stretches > 1:
        reasons += (f"the most suspicious person was scored in {stretches} stretches; their scores are pooled "
                    f"({raw:.2f}), not the highest one taken",)
    if len(people) > 1:
        reasons += (f"{len(people)} people were scored, so the video had {len(people)} chances to show a high "
                    f"score by accident: the most suspicious person's {raw:.2f} counts as {score:.2f}",)
    return Verdict(model.label_for(score), score, *th, top.track_id, reasons, tuple(tvs), top.contributions)
