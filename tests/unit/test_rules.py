"""Combination rules: strong lip-sync or mannerism evidence raises the label, never lowers it, and names itself."""

from __future__ import annotations

import pytest

from unmask.analyzers import av_sync
from unmask.analyzers.results import ClaimCheck, ClaimResult
from unmask.fusion import TrackVerdict, Verdict
from unmask.reference.conclusion import VoiceWords
from unmask.rules import apply_rules
from unmask.types import AnalyzerResult, TrackScore


def _verdict(label: str, assessable: bool = True) -> Verdict:
    tv = TrackVerdict(1, assessable, None if assessable else "too small", 0.1 if assessable else None, {})
    return Verdict(label, 0.1 if assessable else None, 0.2, 0.92, 1 if assessable else None, (), (tv,), {})  # type: ignore[arg-type]


def _av(corr: float, n_eff: float = 200.0, listener: float = 0.0) -> AnalyzerResult:
    """The lip-sync analyzer's result for one face (it names the faces out of sync itself)."""
    return av_sync.AVSyncAnalyzer().ok([TrackScore(1, 0.9, {"corr": corr, "n_eff": n_eff, "listener": listener})], [], "")


def _ref(pid: float, pm: float, windows: float = 4.0, claimed: str = "Ada") -> AnalyzerResult:
    f = {"identity_p": pid, "mannerism_p": pm, "mannerism_windows": windows, "claimed": 1.0}
    claim = ClaimCheck(claimed, 1, "", "", "", "impersonator", "", 1, foreign_mannerisms=0.2)
    return ClaimResult("reference", "1.0", "ok", "", (TrackScore(1, 1 - pm, f),), claim=claim)


def _voiced(conclusion: str = "voice_mismatch", matches: bool | None = False, similarity: float = 0.52,
            status: str = "ok", track_id: int | None = 1, claimed: str = "Barack Obama") -> AnalyzerResult:
    """The reference result for a claim whose face matches (mannerisms fine) and whose voice was checked."""
    voice = VoiceWords(matches, similarity, (0.78, 0.91), 0.65, "" if matches is not None else "music")
    f = {"identity_p": 0.99, "mannerism_p": 0.9, "mannerism_windows": 4.0, "claimed": 1.0}
    claim = ClaimCheck(claimed, 1, "", "", "", conclusion, "", track_id, foreign_mannerisms=0.2, voice=voice)
    return ClaimResult("reference", "1.1", status, "", (TrackScore(1, 0.97, f),), claim=claim)


@pytest.fixture(autouse=True)
def _threshold(monkeypatch):
    monkeypatch.setattr(av_sync, "MISMATCH_MAX_CORR", 0.1)


def test_lip_sync_mismatch_raises_to_inconclusive():
    v, hits = apply_rules(_verdict("likely_real"), [_av(-0.1)])
    assert v.label == "inconclusive" and v.score == 0.1  # the fusion's score is left as it was
    assert [h.rule for h in hits] == ["lip_sync_mismatch"] and hits[0].from_label == "likely_real"
    assert "does not follow the voice" in hits[0].detail


@pytest.mark.parametrize("result", [_av(0.4), _av(0.05, n_eff=10.0), _av(-0.1, listener=1.0)],
                         ids=["in-sync", "too-short-to-tell", "listener"])
def test_lip_sync_rule_needs_clear_evidence(result):
    v, hits = apply_rules(_verdict("likely_real"), [result])
    assert v.label == "likely_real" and not hits


def test_rules_never_judge_what_the_gate_refused():
    v, hits = apply_rules(_verdict("cannot_assess", assessable=False), [_av(-0.3)])
    assert v.label == "cannot_assess" and not hits
    v, hits = apply_rules(_verdict("likely_real", assessable=False), [_av(-0.3)])
    assert not hits


def test_foreign_mannerisms_raise_to_inconclusive_only():
    v, hits = apply_rules(_verdict("likely_real"), [_ref(0.99, 0.05)])
    assert v.label == "inconclusive" and hits[0].rule == "foreign_mannerisms" and "Ada" in hits[0].detail
    v, hits = apply_rules(_verdict("likely_fake"), [_ref(0.99, 0.05)])
    assert v.label == "likely_fake"  # never lowered
    for r in (_ref(0.1, 0.05), _ref(0.99, 0.5), _ref(0.99, 0.05, windows=0.0)):  # other face; moves like them; unmeasured
        v, hits = apply_rules(_verdict("likely_real"), [r])
        assert v.label == "likely_real" and not hits


def test_conclusions_say_what_the_combination_means():
    from unmask.reference.conclusion import conclude

    base = {"identity_p": 0.95, "identity_distance": 0.35}
    c = conclude("Ada", {**base, "mannerism_p": 0.9}, 1, 0.5, 0.1)
    assert c.conclusion == "consistent" and "consistent with Ada" in c.statement and "not proof" in c.statement
    c = conclude("Ada", {**base, "mannerism_p": 0.02}, 1, 0.5, 0.1)
    assert c.conclusion == "impersonator" and "impersonator" in c.statement
    assert conclude("Ada", {**base, "mannerism_p": 0.3}, 1, 0.5, 0.1).conclusion == "mannerisms_unclear"
    c = conclude("Ada", {**base, "mannerism_p": float("nan"), "still_image": 1.0}, 1, 0.5, 0.1)
    assert c.conclusion == "mannerisms_not_checked" and "still image" in c.statement
    c = conclude("Ada", {"identity_p": 0.01, "identity_distance": 0.9, "mannerism_p": 0.5}, 2, 0.5, 0.1)
    assert c.conclusion == "not_this_person" and "does not make the video fake" in c.statement
    assert conclude("Ada", None, None, 0.5, 0.1, "no face").conclusion == "cannot_assess"


def test_voice_mismatch_raises_likely_real_to_inconclusive_only():
    v, hits = apply_rules(_verdict("likely_real"), [_voiced()])
    assert v.label == "inconclusive" and v.score == 0.1  # the fusion's score is left as it was
    assert [(h.rule, h.analyzer, h.track_id, h.from_label, h.to_label) for h in hits] == [
        ("voice_mismatch", "reference", 1, "likely_real", "inconclusive")]
    d = hits[0].detail
    assert "Face 1 matches Barack Obama's face, but the voice is not Barack Obama's (voice similarity 0.52; " \
           "Barack Obama's enrolled speech 0.78–0.91 against itself; other speakers mostly below 0.65)" in d
    assert "impersonator" in d and "A dub, a translation or a voice-over" in d and "closer look" in d


@pytest.mark.parametrize("label", ["inconclusive", "likely_fake"])
def test_voice_mismatch_never_lowers_and_still_says_it_fired(label):
    v, hits = apply_rules(_verdict(label), [_voiced()])
    assert v.label == label  # never lowered, never raised to likely_fake
    assert [(h.rule, h.from_label, h.to_label) for h in hits] == [("voice_mismatch", label, label)]


def test_voice_mismatch_never_judges_what_the_gate_refused():
    v, hits = apply_rules(_verdict("cannot_assess", assessable=False), [_voiced()])
    assert v.label == "cannot_assess" and not hits
    v, hits = apply_rules(_verdict("no_face", assessable=False), [_voiced()])
    assert v.label == "no_face" and not hits
    v, hits = apply_rules(_verdict("likely_real", assessable=False), [_voiced()])  # the claimed face not judged
    assert v.label == "likely_real" and not hits


@pytest.mark.parametrize("result", [
    _voiced("consistent", matches=True, similarity=0.85),  # the person's voice
    _voiced("mannerisms_not_checked", matches=None),  # voice not compared (music, one voice-over, ...)
    _voiced("not_this_person", matches=False),  # another face: not this person, which is not a fake
    _voiced("cannot_assess", matches=False, track_id=None),
    _voiced(status="skipped"),
], ids=["voice-matches", "voice-not-compared", "other-face", "cannot-assess", "skipped"])
def test_voice_rule_needs_the_face_matching_and_the_voice_compared_and_unlike(result):
    v, hits = apply_rules(_verdict("likely_real"), [result])
    assert v.label == "likely_real" and not hits


def test_voice_rule_needs_a_claim_and_a_voice():
    assert apply_rules(_verdict("likely_real"), []) == (_verdict("likely_real"), ())
    no_voice = _voiced()
    assert isinstance(no_voice, ClaimResult) and no_voice.claim is not None
    no_voice = ClaimResult(**{**no_voice.__dict__, "claim": ClaimCheck(**{**no_voice.claim.__dict__, "voice": None})})
    v, hits = apply_rules(_verdict("likely_real"), [no_voice])  # the profile has no voice enrolled
    assert v.label == "likely_real" and not hits
    unclaimed = ClaimResult("reference", "1.1", "skipped", "no claimed person", (), claim=None)
    assert apply_rules(_verdict("likely_real"), [unclaimed])[1] == ()


def test_impersonator_with_a_foreign_voice_names_both_rules():
    """Face matches, moves like someone else and speaks with someone else's voice: both pieces of evidence are
    named; together they still only raise to inconclusive."""
    r = _voiced("impersonator")
    assert isinstance(r, ClaimResult)
    r = ClaimResult(**{**r.__dict__, "tracks": (TrackScore(1, 0.97, {**r.tracks[0].features, "mannerism_p": 0.05}),)})
    v, hits = apply_rules(_verdict("likely_real"), [r])
    assert v.label == "inconclusive"
    assert [(h.rule, h.from_label, h.to_label) for h in hits] == [
        ("foreign_mannerisms", "likely_real", "inconclusive"), ("voice_mismatch", "inconclusive", "inconclusive")]
