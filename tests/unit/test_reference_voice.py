"""Reference mode with a voice: the conclusion's words and the report's voice block (no models, no shared data)."""

from __future__ import annotations

import math

import jsonschema
import pytest

from unmask.reference.conclusion import VoiceWords, conclude
from unmask.reference.voice import VOICE_SKIPS, VoiceCheck
from unmask.report.build import load_schema
from unmask.report.sections import voice_section

FEATS = {"identity_p": 0.9, "identity_distance": 0.3, "mannerism_p": 0.7, "still_image": 0.0}


@pytest.mark.parametrize("feats, voice, conclusion, words", [
    (FEATS, VoiceWords(False, 0.52, (0.78, 0.91), 0.65), "voice_mismatch", "but the voice does not (voice similarity 0.52"),
    (FEATS, VoiceWords(True, 0.85, (0.78, 0.91), 0.65), "consistent", "The voice matches Ann's too"),
    (dict(FEATS, identity_p=0.1), VoiceWords(True, 0.85, (0.78, 0.91), 0.65), "not_this_person",
     "The voice, though, is Ann's"),
    (dict(FEATS, mannerism_p=0.05), VoiceWords(False, 0.4, (0.78, 0.91), 0.65), "impersonator",
     "The voice is not Ann's either"),
    (FEATS, VoiceWords(None, why_not="the file has no sound"), "consistent", "The voice was not compared (the file has no sound)"),
    (FEATS, None, "consistent", "moves like Ann"),
], ids=["face-yes-voice-no", "all-agree", "voice-under-another-face", "impersonator-and-voice", "no-sound", "no-voice"])
def test_conclusion_combines_face_mannerisms_and_voice(feats, voice, conclusion, words):
    c = conclude("Ann", feats, 1, 0.5, 0.2, voice=voice)
    assert c.conclusion == conclusion and words in c.statement, c.statement


@pytest.mark.parametrize("check", [
    VoiceCheck(None, 0.52, 0.03, 3, 9.1, 1, (0.78, 0.91), 0.66, (0.2, 9.0)),
    *[VoiceCheck(k, speech_s=2.0, speakers=2 if k == "several_speakers" else 0) for k in VOICE_SKIPS],
], ids=["checked", *VOICE_SKIPS])
def test_report_voice_block_follows_the_schema(check):
    full = load_schema()
    schema = dict(full["properties"]["reference"]["oneOf"][1]["properties"]["voice"], **{"$defs": full["$defs"]})
    block = voice_section(check.features(), 2)
    jsonschema.validate(block, schema)
    assert block["checked"] is check.checked
    if check.checked:
        assert block["similarity"] == 0.52 and block["own_range"] == [0.78, 0.91] and block["skipped_because"] is None
    else:
        assert block["score"] is None and block["skipped_because"] and not math.isnan(block["speech_s"])
    no_face = voice_section({}, None)  # the reference check itself was skipped
    jsonschema.validate(no_face, schema)
    assert no_face["checked"] is False


def test_every_conclusion_has_words_in_the_terminal_and_the_html_report():
    from unmask.reference.conclusion import CONCLUSIONS
    from unmask.report.html import CONCLUSION_HEADLINE
    from unmask.report.text import CONCLUSION_WORDS

    assert set(CONCLUSIONS) == set(CONCLUSION_WORDS) == set(CONCLUSION_HEADLINE)
    assert set(CONCLUSIONS) == set(load_schema()["properties"]["reference"]["oneOf"][1]["properties"]["conclusion"]["enum"])


def test_terminal_claim_line_gives_the_voice(face_clip_report):
    import json

    from unmask.report.build import Report
    from unmask.report.text import format_report

    data = json.loads(face_clip_report.to_json())
    data["reference"] = {
        "claimed": "Ann", "profile_version": 1, "profile_created_at": "", "profile_sha256": "ab" * 32,
        "calibration_sha256": "", "conclusion": "voice_mismatch", "statement": "(statement)", "track_id": 1,
        "identity": {"score": 0.99, "distance": 0.3, "embeddings": 6},
        "mannerisms": {"checked": False, "score": None, "llr": None, "windows": 0},
        "voice": {"checked": True, "skipped_because": None, "score": 0.03, "similarity": 0.52, "own_range": [0.8, 0.9],
                  "others_below": 0.66, "segments": 3, "speech_s": 9.0, "speakers": 1}}
    text = format_report(Report.from_dict(data))
    assert "claim: Ann v1: this person's face, someone else's voice (identity 0.99; mannerisms not compared; voice 0.03)" in text


def test_terminal_prints_the_rules_that_fired_with_a_claim(face_clip_report):
    """With a claimed person, the mannerism rule is the one most likely to fire: its line must be printed.
    (Before, the claim block rebound the variable the rules were read from, and no rule line came out.)"""
    import json

    from unmask.report.build import Report
    from unmask.report.text import format_report

    data = json.loads(face_clip_report.to_json())
    data["reference"] = {
        "claimed": "Ann", "profile_version": 1, "profile_created_at": "", "profile_sha256": "ab" * 32,
        "calibration_sha256": "", "conclusion": "impersonator", "statement": "(statement)", "track_id": 1,
        "identity": {"score": 0.99, "distance": 0.3, "embeddings": 6},
        "mannerisms": {"checked": True, "score": 0.97, "llr": 4.0, "windows": 12}}
    data["verdict"]["rules"] = [{"rule": "foreign_mannerisms", "analyzer": "reference", "track_id": 1,
                                 "from_label": "likely_real", "to_label": "inconclusive", "detail": "(rule detail)"}]
    text = format_report(Report.from_dict(data))
    assert "claim: Ann v1:" in text
    assert "  rule foreign_mannerisms fired (" in text and "): (rule detail)" in text


@pytest.mark.parametrize("check, rule", [
    (VoiceCheck(None, 0.52, 0.03, 3, 9.1, 1, (0.78, 0.91), 0.66, (0.2, 9.0)), True),
    (VoiceCheck(None, 0.85, 0.97, 3, 9.1, 1, (0.78, 0.91), 0.66, (0.2, 9.0)), False),
    (VoiceCheck("music", speech_s=2.0), False),
], ids=["voice-unlike", "voice-alike", "music"])
def test_the_claim_carries_the_voice_check_to_the_voice_rule(check, rule):
    """The analyzer's typed claim holds the voice check it concluded from; the rule reads it from there."""
    from unmask.analyzers.reference import ReferenceAnalyzer
    from unmask.fusion import TrackVerdict, Verdict
    from unmask.rules import apply_rules
    from unmask.types import TrackScore

    profile = type("P", (), {"voice": None, "name": "Ann", "version": 2, "created_at": "", "sha256": lambda self: ""})()
    feats = {**FEATS, "mannerism_windows": 3.0, "claimed": 1.0, **check.features()}
    res = ReferenceAnalyzer(profile).ok([TrackScore(1, 0.9, feats)], [], "")  # type: ignore[arg-type]
    assert res.claim is not None and res.claim.voice is not None
    assert res.claim.voice.matches is check.matches and res.claim.voice.similarity == pytest.approx(check.similarity,
                                                                                                     nan_ok=True)
    assert (res.claim.conclusion == "voice_mismatch") is rule
    tv = TrackVerdict(1, True, None, 0.1, {})
    v, hits = apply_rules(Verdict("likely_real", 0.1, 0.2, 0.92, 1, (), (tv,), {}), [res])  # type: ignore[arg-type]
    assert [h.rule for h in hits] == (["voice_mismatch"] if rule else [])
    assert v.label == ("inconclusive" if rule else "likely_real")


def test_the_voice_rule_reads_well_in_the_terminal_and_the_html_report(face_clip_report):
    import json

    from unmask.report.build import Report
    from unmask.report.html import render_html
    from unmask.report.text import format_report

    detail = ("Face 1 matches Ann's face, but the voice is not Ann's (voice similarity 0.52; Ann's enrolled speech "
              "0.78–0.91 against itself; other speakers mostly below 0.66): possibly Ann's face swapped over an "
              "impersonator.")
    data = json.loads(face_clip_report.to_json())
    data["reference"] = {
        "claimed": "Ann", "profile_version": 1, "profile_created_at": "", "profile_sha256": "ab" * 32,
        "calibration_sha256": "", "conclusion": "voice_mismatch", "statement": "(statement)", "track_id": 1,
        "identity": {"score": 0.99, "distance": 0.3, "embeddings": 6},
        "mannerisms": {"checked": False, "score": None, "llr": None, "windows": 0},
        "voice": {"checked": True, "skipped_because": None, "score": 0.03, "similarity": 0.52, "own_range": [0.78, 0.91],
                  "others_below": 0.66, "segments": 3, "speech_s": 9.0, "speakers": 1}}
    data["verdict"].update(label="inconclusive", fusion_label="likely_real", rules=[
        {"rule": "voice_mismatch", "analyzer": "reference", "track_id": 1, "from_label": "likely_real",
         "to_label": "inconclusive", "detail": detail}])
    jsonschema.validate(data, load_schema())
    report = Report.from_dict(data, face_clip_report.attachments)
    text = format_report(report)
    assert f'  rule voice_mismatch fired (raised "likely real" to "inconclusive"): {detail}' in text, text
    html = render_html(report)
    banner = html[html.index('id="verdict"'):html.index("</section>")]
    assert "The voice rule raised the verdict from “likely real” to “inconclusive”." in banner
    assert 'data-rule="voice_mismatch"' in banner
    assert "<strong>Voice rule</strong>" in html and detail.replace("'", "&#39;") in html
