"""The verdict's words never contradict its label (issue 13, §2).

``Inconclusive (score 0.87; likely manipulated at ≥ 0.87)`` came from rounding a 0.8678 score and a
0.8718 threshold to two digits; "None of the cues fired" stood above listed findings; a still image's
``cannot_assess`` blamed the faces when the reason is that no model is validated for photos.
"""

from __future__ import annotations

import copy
import random
import re
from types import SimpleNamespace

import pytest
from report_checks import contradictions

from unmask.fusion import TrackVerdict, Verdict, unvalidated_kind_reason
from unmask.report.html import render_html
from unmask.report.model import Report
from unmask.report.text import format_report
from unmask.report.words import fusion_summary, score_digits, score_words

NUMBERS = re.compile(r"score (\d+\.\d+)(, (just below|at or just above) the (likely-manipulated|likely-real) threshold)?; "
                     r"likely manipulated at ≥ (\d+\.\d+), likely real below (\d+\.\d+)")


def _label(score: float, real: float, fake: float) -> str:
    return "likely_fake" if score >= fake else "likely_real" if score < real else "inconclusive"


def test_the_issues_example_shows_the_gap() -> None:
    words = score_words(0.8678, "inconclusive", 0.2693, 0.8718)
    assert words == ("score 0.868, just below the likely-manipulated threshold; "
                     "likely manipulated at ≥ 0.872, likely real below 0.269")


def test_two_digits_when_they_suffice() -> None:
    assert score_words(0.63, "inconclusive", 0.27, 0.87) == "score 0.63; likely manipulated at ≥ 0.87, likely real below 0.27"
    assert score_digits(0.94, "likely_fake", 0.27, 0.87) == 2


@pytest.mark.parametrize("score, real, fake, expected", [
    (0.8718, 0.2693, 0.8718, "score 0.87; likely manipulated at ≥ 0.87"),  # exactly at: likely_fake, and it reads so
    (0.87175, 0.2693, 0.8718, "score 0.87175, just below the likely-manipulated threshold; likely manipulated at ≥ 0.87180"),
    (0.26951, 0.2699, 0.8718, "score 0.2695, just below the likely-real threshold;"),
])
def test_scores_at_a_threshold(score: float, real: float, fake: float, expected: str) -> None:
    assert score_words(score, _label(score, real, fake), real, fake).startswith(expected)


def test_printed_numbers_never_contradict_the_label() -> None:
    rng = random.Random(13)
    for _ in range(20000):
        real = round(rng.uniform(0.05, 0.5), rng.choice([2, 3, 4, 6]))
        fake = round(rng.uniform(max(real, 0.5), 0.99), rng.choice([2, 3, 4, 6]))
        score = rng.choice([rng.random(), fake + rng.uniform(-0.006, 0.006), real + rng.uniform(-0.006, 0.006)])
        score = min(max(score, 0.0), 1.0)
        label = _label(score, real, fake)
        m = NUMBERS.fullmatch(score_words(score, label, real, fake))
        assert m, score_words(score, label, real, fake)
        s, f, r = float(m.group(1)), float(m.group(5)), float(m.group(6))
        printed = _label(s, r, f)
        # equal printed numbers (a gap under a millionth) are resolved by the words
        assert printed == label or (m.group(3) and (s == f or s == r)), (score, real, fake, m.group(0))


CTX = SimpleNamespace(tracks=(SimpleNamespace(id=1, start_t=0.0, end_t=4.0),), is_still=False, sampled=(),
                      info=SimpleNamespace(kind="video"), person_tracks=lambda track_id: ())


def test_summary_of_the_issues_case_is_consistent() -> None:
    v = Verdict("inconclusive", 0.8678, 0.2693, 0.8718, 1, (), (TrackVerdict(1, True, None, 0.8678, {}),), {})
    s = fusion_summary(v, CTX, [], [])  # type: ignore[arg-type]
    assert s.startswith("Inconclusive (score 0.868, just below the likely-manipulated threshold; likely manipulated at ≥ 0.872")


def test_a_still_image_says_the_real_reason() -> None:
    still = SimpleNamespace(tracks=CTX.tracks, is_still=True, sampled=(), info=SimpleNamespace(kind="image"))
    v = Verdict("cannot_assess", None, 0.27, 0.87, None, (unvalidated_kind_reason("image"),),
                (TrackVerdict(1, True, None, None, {}),), {})
    s = fusion_summary(v, still, [], [])  # type: ignore[arg-type]
    assert s == f"Cannot assess: {unvalidated_kind_reason('image')}."
    assert "cannot support" not in s


def _data(report: Report) -> dict:
    return copy.deepcopy(dict(report.data))


def test_a_real_report_has_no_contradictions(face_clip_report) -> None:
    assert contradictions(face_clip_report.data) == []


def test_the_checker_catches_each_contradiction(face_clip_report) -> None:
    d = _data(face_clip_report)
    d["verdict"].update(label="inconclusive", fusion_label="inconclusive", score=0.8678,
                        thresholds={"likely_real": 0.2693, "likely_fake": 0.8718},
                        summary="Inconclusive (score 0.87; likely manipulated at ≥ 0.87, likely real below 0.27).")
    assert any("summary prints 'score 0.87; likely manipulated at ≥ 0.87" in c for c in contradictions(d))
    d = _data(face_clip_report)
    blend = next(a for a in d["analyzers"] if a["name"] == "blend_boundary")
    blend["explanation"] = "The inner face matches the skin around it; no pasting boundary was found."
    blend["evidence"] = [{"analyzer": "blend_boundary", "cue": "seam", "detail": "like the border of a pasted patch",
                          "strength": 0.6, "t_start": 1.0, "t_end": 1.5, "track_id": 1, "frame_start": 25, "frame_end": 37}]
    assert any("no pasting boundary was found" in c for c in contradictions(d))
    d = _data(face_clip_report)
    d["sampling"]["damaged"] = True
    d["verdict"]["label"] = d["verdict"]["fusion_label"] = "likely_real"
    assert any("damaged file got the confident label" in c for c in contradictions(d))


def test_html_never_says_no_cue_fired_above_findings(face_clip_report) -> None:
    d = _data(face_clip_report)
    d["verdict"].update(label="likely_real", fusion_label="likely_real", score=0.1,
                        summary="Likely real (score 0.10; likely manipulated at ≥ 0.87, likely real below 0.27).")
    finding = {"analyzer": "head_pose", "cue": "head_pose_mismatch", "detail": "Face 1, 1.0 s: turned 9° apart.",
               "strength": 0.6, "t_start": 1.0, "t_end": 1.0, "track_id": 1, "frame_start": 25, "frame_end": 25}
    d["evidence"] = [finding]
    html = render_html(Report.from_dict(d))
    assert "None of the cues" not in html and "were outweighed by the rest" in html
    d["evidence"] = []
    assert "None of the cues unmask measures fired" in render_html(Report.from_dict(d))


def test_terminal_header_uses_the_digits_the_label_needs(face_clip_report) -> None:
    d = _data(face_clip_report)
    d["verdict"].update(label="inconclusive", fusion_label="inconclusive", score=0.8678,
                        thresholds={"likely_real": 0.2693, "likely_fake": 0.8718})
    assert "INCONCLUSIVE  score 0.868" in format_report(Report.from_dict(d)).splitlines()[0]
    assert "score 0.868" in render_html(Report.from_dict(d))
