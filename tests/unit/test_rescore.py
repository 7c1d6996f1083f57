"""Rescoring a saved report under a refitted fusion applies the rules again, as a scan would.

The bench rescores saved reports after a refit instead of rescanning; a label a rule raised (lip sync,
mannerisms, voice), capped (damage) or set (declared AI) must come out as a fresh scan would give it.
"""

from __future__ import annotations

from typing import Any

import pytest

from unmask.fusion import FusionModel, Verdict
from unmask.provenance.credentials import Action, Credential, Signer
from unmask.report.rescore import rescore_saved
from unmask.rules import CAPTURE_RULE, DAMAGE_RULE, DECLARED_RULE, RuleHit, replay_rules
from unmask.types import Label

#: one feature ``a.x``; with x = 0 the score is sigmoid(intercept)
REAL = FusionModel("t", ("a.x",), (0.0,), (1.0,), (1.0,), -3.0, 0.3, 0.8)  # scores 0.05: likely_real
FAKE = FusionModel("t", ("a.x",), (0.0,), (1.0,), (1.0,), 3.0, 0.3, 0.8)  # scores 0.95: likely_fake


def _cred(source: str) -> dict[str, Any]:
    return Credential("valid", validation_state="Valid", signature_valid=True, hashes_valid=True, trusted=False,
                      signer=Signer("Acme Signer", "Acme CA", "1", "Es256", None),
                      actions=(Action("c2pa.created", source, "Gen 1", None),)).to_dict()


def _saved(label: str, rules: list[dict[str, Any]], credential: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"input": {"kind": "video"}, "faces": [{"id": 1, "assessable": True, "score": 0.5}],
            "analyzers": [{"name": "a", "status": "ok", "video_features": {},
                           "tracks": [{"track_id": 1, "features": {"x": 0.0}}]}],
            "provenance": None if credential is None else {"credential": credential, "metadata": {}},
            "verdict": {"label": label, "score": 0.5, "track_id": 1, "fusion_label": "inconclusive", "rules": rules}}


def _hit(rule: str, frm: str, to: str) -> dict[str, Any]:
    return {"rule": rule, "analyzer": "lip_sync", "track_id": 1, "from_label": frm, "to_label": to, "detail": "why"}


def test_a_raising_rule_raises_the_new_label_again() -> None:
    saved = _saved("inconclusive", [_hit("lip_sync_mismatch", "likely_real", "inconclusive")])
    new = rescore_saved(saved, REAL)
    assert new["verdict"]["label"] == "inconclusive"  # the fusion says likely_real; the mouth still fails the voice
    assert new["verdict"]["fusion_label"] == "likely_real"
    assert new["verdict"]["rules"] == [_hit("lip_sync_mismatch", "likely_real", "inconclusive")]
    new = rescore_saved(saved, FAKE)  # a rule never lowers: it fires and leaves likely_fake
    assert new["verdict"]["label"] == "likely_fake" and new["verdict"]["fusion_label"] == "likely_fake"
    assert new["verdict"]["rules"] == [_hit("lip_sync_mismatch", "likely_fake", "likely_fake")]
    assert rescore_saved(_saved("inconclusive", []), REAL)["verdict"]["label"] == "likely_real"  # no rule: fusion's


@pytest.mark.parametrize("rule", ["foreign_mannerisms", "voice_mismatch"])
def test_claim_rules_are_replayed_before_the_damage_cap(rule: str) -> None:
    saved = _saved("inconclusive", [_hit(rule, "likely_real", "inconclusive"),
                                    _hit(DAMAGE_RULE, "inconclusive", "inconclusive")])
    new = rescore_saved(saved, FAKE)
    assert new["verdict"]["label"] == "inconclusive"  # damaged: never sure
    assert [(r["rule"], r["from_label"], r["to_label"]) for r in new["verdict"]["rules"]] == [
        (rule, "likely_fake", "likely_fake"), (DAMAGE_RULE, "likely_fake", "inconclusive")]


def test_a_declared_synthetic_file_stays_declared() -> None:
    saved = _saved("declared_synthetic", [_hit(DECLARED_RULE, "likely_real", "declared_synthetic")],
                   _cred("trainedAlgorithmicMedia"))
    for model in (REAL, FAKE):
        new = rescore_saved(saved, model)
        assert new["verdict"]["label"] == "declared_synthetic"
        assert new["verdict"]["rules"][-1]["from_label"] == ("likely_real" if model is REAL else "likely_fake")


def test_the_capture_note_follows_the_new_label() -> None:
    saved = _saved("likely_real", [], _cred("digitalCapture"))
    new = rescore_saved(saved, FAKE)
    assert new["verdict"]["label"] == "likely_fake"  # a capture credential does not lower likely_fake ...
    hit = new["verdict"]["rules"][0]  # ... and the report says both
    assert hit["rule"] == CAPTURE_RULE and "Acme Signer" in hit["detail"]
    assert rescore_saved(new, REAL)["verdict"]["rules"] == []  # no likely_fake, no note


def test_replay_keeps_the_saved_words() -> None:
    v = Verdict(Label.LIKELY_REAL, 0.1, 0.3, 0.8, 1, (), (), {})
    hit = RuleHit("voice_mismatch", "reference", 1, Label.LIKELY_FAKE, Label.LIKELY_FAKE, "Face 1 matches Ann's face")
    out, hits = replay_rules(v, [hit], None)
    assert out.label == "inconclusive" and hits == (RuleHit("voice_mismatch", "reference", 1, Label.LIKELY_REAL,
                                                              Label.INCONCLUSIVE, "Face 1 matches Ann's face"),)
    gone = RuleHit(DAMAGE_RULE, "decode", None, Label.LIKELY_REAL, Label.CANNOT_ASSESS, "too little")
    out, hits = replay_rules(v, [gone], None)
    assert out.label == "cannot_assess" and out.score is None and hits[0].to_label == "cannot_assess"


def test_the_typed_and_the_saved_rescore_agree(face_clip_report) -> None:
    """``rescore`` on a scanned report (what the bench calls) gives what ``rescore_saved`` gives on its JSON."""
    import json
    from dataclasses import replace

    from unmask.report.model import RuleRecord
    from unmask.report.rescore import rescore

    hit = RuleRecord("lip_sync_mismatch", "av_sync", face_clip_report.verdict.track_id, Label.LIKELY_REAL,
                     Label.INCONCLUSIVE, "the mouth does not follow the voice")
    report = replace(face_clip_report, verdict=replace(face_clip_report.verdict, label=Label.INCONCLUSIVE,
                                                       fusion_label=Label.LIKELY_REAL, rules=(hit,)))
    for model in (REAL, FAKE):
        typed = rescore(report, model)
        saved = rescore_saved(json.loads(report.to_json()), model)
        assert typed.verdict.label == saved["verdict"]["label"] == ("inconclusive" if model is REAL else "likely_fake")
        assert typed.verdict.fusion_label == saved["verdict"]["fusion_label"]
        assert [(r.rule, r.from_label, r.to_label) for r in typed.verdict.rules] == [
            (r["rule"], r["from_label"], r["to_label"]) for r in saved["verdict"]["rules"]]
