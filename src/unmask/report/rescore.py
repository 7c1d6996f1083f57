"""A saved report's verdict under another fusion model, without rescanning (the features are unchanged).

Used by the benchmark after a refit. The scoring is the fusion's own (``score_track``/``verdict_of``,
as ``decide`` uses them), and the rules that fired are applied again to the new label as a scan applies
them (``rules.replay_rules``); only the verdict's label, score, face, thresholds and rules, the faces'
and persons' scores and the model facts change: the report's prose keeps the original model's words.
:func:`rescore` works on a typed :class:`Report`; :func:`rescore_saved` on a (possibly partial) JSON
document, for callers that hold only the parts it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from unmask.fusion import FusionModel, Verdict, pooled_score, score_track, unvalidated_kind_reason, verdict_of
from unmask.provenance.credentials import Credential
from unmask.report.model import Report, RuleRecord, Thresholds
from unmask.rules import DAMAGE_RULE, RuleHit, replay_rules
from unmask.types import Label


@dataclass(frozen=True)
class Rescored:
    """What changes in a report under the new model (``track_id`` None: no face could be scored)."""

    label: Label  # after the rules
    fusion_label: Label  # the fusion's own, before them
    score: float | None
    track_id: int | None
    face_scores: Mapping[int, float]  # rounded, per scored face
    thresholds: Thresholds | None  # None: unchanged
    reasons: tuple[str, ...] | None  # None: unchanged
    rules: tuple[RuleHit, ...]  # the saved rules, replayed on the new label


def rescored(kind: str, label: Label, fired: Sequence[RuleHit], credential: Credential | None,
             assessable: Sequence[int], features: Mapping[int, dict[str, float]], model: FusionModel,
             person_of: Mapping[int, int | None] | None = None, n_observations: Mapping[int, int] | None = None
             ) -> Rescored | None:
    """The new verdict, or None when the report stays as it is. ``label``: the saved label; ``fired``: the saved
    rule hits (replayed on the new fusion label by :func:`unmask.rules.replay_rules`, as a scan applies them);
    ``credential``: the saved Content Credentials; ``assessable``: the ids of the faces that could be judged;
    ``person_of``, ``n_observations``: each face's person and frame count (how the fusion pools a person)."""
    if label == Label.NO_FACE or any(h.rule == DAMAGE_RULE and h.to_label == Label.CANNOT_ASSESS for h in fired):
        return None  # no face, or a file too damaged to judge, stays so under any model
    kind_model = model.for_kind(kind)
    if kind_model is None:
        reason = unvalidated_kind_reason(kind)
        v = Verdict(Label.CANNOT_ASSESS, None, model.likely_real, model.likely_fake, None, (reason,), (), {})
        final, hits = replay_rules(v, fired, credential)
        return Rescored(final.label, v.label, None, None, {}, None, (reason,), hits)
    person_of, n_observations = person_of or {}, n_observations or {}
    tvs = [score_track(kind_model, tid, features[tid], person_of.get(tid), n_observations.get(tid, 1))
           for tid in assessable]
    if not tvs:
        return None
    v = verdict_of(kind_model, tvs)  # the same scoring and labelling as a scan's (decide)
    assert v.score is not None and v.track_id is not None
    final, hits = replay_rules(v, fired, credential)  # then the rules, as a scan applies them
    scores = {t.track_id: round(t.score, 4) for t in tvs if t.score is not None}
    return Rescored(final.label, v.label, round(v.score, 4), v.track_id, scores,
                    Thresholds(kind_model.likely_real, kind_model.likely_fake), None, hits)


def _credential(provenance: Mapping[str, Any] | None) -> Credential | None:
    """The saved Content Credentials, if the report recorded any (reports before schema 1.4 did not)."""
    if not provenance or not isinstance(provenance.get("credential"), Mapping):
        return None
    return Credential.from_dict(provenance["credential"])


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
    """``report`` with its verdict, scores and rules under ``model``."""
    v0 = report.verdict
    fired = [RuleHit(r.rule, r.analyzer, r.track_id, r.from_label, r.to_label, r.detail) for r in v0.rules]
    new = rescored(report.input.kind, v0.label, fired, _credential(report.provenance),
                   [f.id for f in report.faces if f.assessable], section_features(report), model,
                   {f.id: f.person_id for f in report.faces}, {f.id: f.n_observations for f in report.faces})
    if new is None:
        return report
    rules = tuple(RuleRecord(h.rule, h.analyzer, h.track_id, h.from_label, h.to_label, h.detail) for h in new.rules)
    verdict = replace(v0, label=new.label, score=new.score, track_id=new.track_id,
                      thresholds=new.thresholds or v0.thresholds, reasons=v0.reasons if new.reasons is None
                      else new.reasons, fusion_label=new.fusion_label if v0.fusion_label is not None else None,
                      rules=rules)
    if report.persons or v0.person_id is not None:  # reports since schema 1.2 name the person
        person_of = {f.id: f.id if f.person_id is None else f.person_id for f in report.faces}
        verdict = replace(verdict, person_id=None if new.track_id is None else person_of.get(new.track_id,
                                                                                                 new.track_id))
    faces = tuple(replace(f, score=new.face_scores.get(f.id)) for f in report.faces)
    n_obs = {f.id: f.n_observations for f in report.faces}
    persons = tuple(replace(p, score=person_score(p.track_ids, new.face_scores, n_obs)) for p in report.persons)
    out = replace(report, verdict=verdict, faces=faces, persons=persons)
    if new.thresholds is None:  # unvalidated kind: the model facts stay the saved ones
        return out
    return replace(out, model=replace(report.model, fusion_version=model.version, fusion_sha256=model.sha256))


def person_score(track_ids: Sequence[int], scores: Mapping[int, float], n_observations: Mapping[int, int]
                 ) -> float | None:
    """A person's score: their scored stretches pooled (``fusion.pooled_score``); None when none was scored."""
    ids = [t for t in track_ids if t in scores]
    if not ids:
        return None
    return round(pooled_score([scores[t] for t in ids], [max(1, n_observations.get(t, 1)) for t in ids]), 4)


def _saved_hit(d: Mapping[str, Any]) -> RuleHit:
    return RuleHit(d["rule"], d.get("analyzer", ""), d.get("track_id"), Label(d["from_label"]), Label(d["to_label"]),
                   d.get("detail", ""))


def _rule_doc(h: RuleHit, saved: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A replayed hit as the report states it: the saved entry with its new labels, or a new entry."""
    old = next((d for d in saved if d["rule"] == h.rule), None)
    labels = {"from_label": h.from_label.value, "to_label": h.to_label.value}
    if old is not None:
        return {**old, **labels}
    return {"rule": h.rule, "analyzer": h.analyzer, "track_id": h.track_id, **labels, "detail": h.detail}


def rescore_saved(report: Mapping[str, Any], model: FusionModel) -> dict[str, Any]:
    """:func:`rescore` for a JSON document, which may hold only ``input.kind``, ``verdict``, ``faces`` and
    ``analyzers`` (keys it lacks stay absent)."""
    saved = report["verdict"].get("rules", [])
    new = rescored(report["input"]["kind"], Label(report["verdict"]["label"]), [_saved_hit(d) for d in saved],
                   _credential(report.get("provenance")), [f["id"] for f in report["faces"] if f["assessable"]],
                   report_track_features(report), model, {f["id"]: f.get("person_id") for f in report["faces"]},
                   {f["id"]: int(f.get("n_observations", 1)) for f in report["faces"]})
    if new is None:
        return dict(report)
    out = dict(report)
    verdict = {**report["verdict"], "label": new.label.value, "score": new.score, "track_id": new.track_id}
    if new.thresholds is not None:
        verdict["thresholds"] = {"likely_real": new.thresholds.likely_real, "likely_fake": new.thresholds.likely_fake}
    if new.reasons is not None:
        verdict["reasons"] = list(new.reasons)
    if "fusion_label" in report["verdict"]:
        verdict["fusion_label"] = new.fusion_label.value
    if "rules" in report["verdict"]:
        verdict["rules"] = [_rule_doc(h, saved) for h in new.rules]
    if "person_id" in report["verdict"]:
        person_of = {f["id"]: f.get("person_id", f["id"]) for f in report["faces"]}
        verdict["person_id"] = None if new.track_id is None else person_of.get(new.track_id, new.track_id)
    out["verdict"] = verdict
    out["faces"] = [{**f, "score": new.face_scores.get(f["id"])} for f in report["faces"]]
    if "persons" in report:
        n_obs = {f["id"]: int(f.get("n_observations", 1)) for f in report["faces"]}
        out["persons"] = [{**p, "score": person_score(p["track_ids"], new.face_scores, n_obs)}
                          for p in report["persons"]]
    if new.thresholds is not None:
        out["model"] = {**report.get("model", {}), "fusion_version": model.version, "fusion_sha256": model.sha256}
    return out
