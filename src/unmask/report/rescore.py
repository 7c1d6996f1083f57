"""A saved report's verdict under another fusion model, without rescanning (the features are unchanged).

Used by the benchmark after a refit. The scoring is the fusion's own (``score_track``/``verdict_of``,
as ``decide`` uses them); only the verdict's label, score, face and thresholds, the faces' and
persons' scores and the model facts change: the report's prose keeps the original model's words.
:func:`rescore` works on a typed :class:`Report`; :func:`rescore_saved` on a (possibly partial) JSON
document, for callers that hold only the parts it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from unmask.fusion import FusionModel, score_track, unvalidated_kind_reason, verdict_of
from unmask.report.model import Report, Thresholds
from unmask.rules import DAMAGE_RULE
from unmask.types import Label


@dataclass(frozen=True)
class Rescored:
    """What changes in a report under the new model (``track_id`` None: no face could be scored)."""

    label: Label
    score: float | None
    track_id: int | None
    face_scores: Mapping[int, float]  # rounded, per scored face
    thresholds: Thresholds | None  # None: unchanged
    reasons: tuple[str, ...] | None  # None: unchanged


def rescored(kind: str, label: Label, damage_to: Label | None, assessable: Sequence[int],
             features: Mapping[int, dict[str, float]], model: FusionModel) -> Rescored | None:
    """The new verdict, or None when the report stays as it is. ``damage_to``: the label the damaged-input
    rule set (None: it did not fire); ``assessable``: the ids of the faces that could be judged."""
    if label == Label.NO_FACE or damage_to == Label.CANNOT_ASSESS:
        return None  # a file too damaged to judge stays so under any model
    kind_model = model.for_kind(kind)
    if kind_model is None:
        return Rescored(Label.CANNOT_ASSESS, None, None, {}, None, (unvalidated_kind_reason(kind),))
    tvs = [score_track(kind_model, tid, features[tid]) for tid in assessable]
    if not tvs:
        return None
    v = verdict_of(kind_model, tvs)  # the same scoring and labelling as a scan's (decide)
    assert v.score is not None and v.track_id is not None
    scores = {t.track_id: round(t.score, 4) for t in tvs if t.score is not None}
    new_label = Label.INCONCLUSIVE if damage_to is not None else v.label  # never sure (rules.cap_for_damage)
    return Rescored(new_label, round(v.score, 4), v.track_id, scores,
                    Thresholds(kind_model.likely_real, kind_model.likely_fake), None)


def report_track_features(report: Mapping[str, Any]) -> dict[int, dict[str, float]]:
    """``analyzer.feature`` -> value for every face in a saved report's JSON (per-video features included)."""
    out: dict[int, dict[str, float]] = {f["id"]: {} for f in report["faces"]}
    for a in report["analyzers"]:
        if a["status"] != "ok":
            continue
        vf = {f"{a['name']}.{k}": v for k, v in a["video_features"].items() if v is not None}
        for tid in out:
            out[tid].update(vf)
        for t in a["tracks"]:
            if t["track_id"] in out:
                out[t["track_id"]].update({f"{a['name']}.{k}": v for k, v in t["features"].items() if v is not None})
    return out


def section_features(report: Report) -> dict[int, dict[str, float]]:
    """``analyzer.feature`` -> value for every face of a report (per-video features included)."""
    out: dict[int, dict[str, float]] = {f.id: {} for f in report.faces}
    for a in report.analyzers:
        if not a.ok:
            continue
        vf = {f"{a.name}.{k}": v for k, v in a.video_features.items() if v is not None}
        for tid in out:
            out[tid].update(vf)
        for t in a.tracks:
            if t.track_id in out:
                out[t.track_id].update({f"{a.name}.{k}": v for k, v in t.features.items() if v is not None})
    return out


def rescore(report: Report, model: FusionModel) -> Report:
    """``report`` with its verdict and scores under ``model``."""
    damage = next((r for r in report.verdict.rules if r.rule == DAMAGE_RULE), None)
    new = rescored(report.input.kind, report.verdict.label, damage.to_label if damage else None,
                   [f.id for f in report.faces if f.assessable], section_features(report), model)
    if new is None:
        return report
    verdict = replace(report.verdict, label=new.label, score=new.score, track_id=new.track_id,
                      thresholds=new.thresholds or report.verdict.thresholds,
                      reasons=report.verdict.reasons if new.reasons is None else new.reasons)
    if report.persons or report.verdict.person_id is not None:  # reports since schema 1.2 name the person
        person_of = {f.id: f.id if f.person_id is None else f.person_id for f in report.faces}
        verdict = replace(verdict, person_id=None if new.track_id is None else person_of.get(new.track_id,
                                                                                                 new.track_id))
    faces = tuple(replace(f, score=new.face_scores.get(f.id)) for f in report.faces)
    persons = tuple(replace(p, score=max((new.face_scores[t] for t in p.track_ids if t in new.face_scores),
                                         default=None)) for p in report.persons)
    out = replace(report, verdict=verdict, faces=faces, persons=persons)
    if new.thresholds is None:  # unvalidated kind: the model facts stay the saved ones
        return out
    return replace(out, model=replace(report.model, fusion_version=model.version, fusion_sha256=model.sha256))


def rescore_saved(report: Mapping[str, Any], model: FusionModel) -> dict[str, Any]:
    """:func:`rescore` for a JSON document, which may hold only ``input.kind``, ``verdict``, ``faces`` and
    ``analyzers`` (keys it lacks stay absent)."""
    damage = next((r for r in report["verdict"].get("rules", []) if r["rule"] == DAMAGE_RULE), None)
    new = rescored(report["input"]["kind"], Label(report["verdict"]["label"]),
                   Label(damage["to_label"]) if damage else None,
                   [f["id"] for f in report["faces"] if f["assessable"]], report_track_features(report), model)
    if new is None:
        return dict(report)
    out = dict(report)
    verdict = {**report["verdict"], "label": new.label.value, "score": new.score, "track_id": new.track_id}
    if new.thresholds is not None:
        verdict["thresholds"] = {"likely_real": new.thresholds.likely_real, "likely_fake": new.thresholds.likely_fake}
    if new.reasons is not None:
        verdict["reasons"] = list(new.reasons)
    if "person_id" in report["verdict"]:
        person_of = {f["id"]: f.get("person_id", f["id"]) for f in report["faces"]}
        verdict["person_id"] = None if new.track_id is None else person_of.get(new.track_id, new.track_id)
    out["verdict"] = verdict
    out["faces"] = [{**f, "score": new.face_scores.get(f["id"])} for f in report["faces"]]
    if "persons" in report:
        out["persons"] = [{**p, "score": max((new.face_scores[t] for t in p["track_ids"] if t in new.face_scores),
                                             default=None)} for p in report["persons"]]
    if new.thresholds is not None:
        out["model"] = {**report.get("model", {}), "fusion_version": model.version, "fusion_sha256": model.sha256}
    return out
