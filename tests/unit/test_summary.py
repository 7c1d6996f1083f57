"""The verdict's summary says what moved the verdict: the fusion's cues, or a combination rule (and whether it changed anything)."""

from __future__ import annotations

from types import SimpleNamespace

from unmask.fusion import TrackVerdict, Verdict
from unmask.report.words import fusion_summary
from unmask.rules import RuleHit

CTX = SimpleNamespace(tracks=(SimpleNamespace(id=1, start_t=0.0, end_t=8.0),), is_still=False, sampled=(),
                      person_tracks=lambda track_id: ())
LIPS = {"analyzer": "av_sync", "detail": "Face 1, 2–4 s: the mouth moves against the voice."}
POSE = {"analyzer": "head_pose", "detail": "Face 1, 7.3 s: the inner face's pose drifts 6° from the outline's."}
FUSED = frozenset({"head_pose", "blend_boundary"})


def _verdict(label: str, score: float) -> Verdict:
    return Verdict(label, score, 0.2, 0.92, 1, (), (TrackVerdict(1, True, None, score, {}),), {"head_pose": 0.3})  # type: ignore[arg-type]


def _lip_rule(frm: str, to: str) -> RuleHit:
    return RuleHit("lip_sync_mismatch", "av_sync", 1, frm, to, "Face 1's mouth does not follow the voice.")  # type: ignore[arg-type]


def test_a_finding_the_fusion_did_not_read_is_never_the_strongest_finding():
    s = fusion_summary(_verdict("inconclusive", 0.5), CTX, [LIPS, POSE], [], (), FUSED)  # type: ignore[arg-type]
    assert "Strongest finding: Face 1, 7.3 s" in s and "moves against the voice" not in s


def test_a_rule_that_fired_without_changing_the_label_says_so():
    s = fusion_summary(_verdict("inconclusive", 0.5), CTX, [LIPS, POSE], [],  # type: ignore[arg-type]
                        (_lip_rule("inconclusive", "inconclusive"),), FUSED)
    assert s.startswith("Inconclusive (score 0.50;") and "Strongest finding: Face 1, 7.3 s" in s
    assert s.endswith("Also, the lip-sync rule fired: Face 1's mouth does not follow the voice. The label was already "
                      "\"inconclusive\", so it changed nothing.")


def test_a_rule_that_raised_the_label_leads_and_names_itself():
    rules = (_lip_rule("likely_real", "inconclusive"),
             RuleHit("foreign_mannerisms", "reference", 1, "inconclusive", "inconclusive", "Face 1 moves like someone else."))  # type: ignore[arg-type]
    s = fusion_summary(_verdict("inconclusive", 0.1), CTX, [LIPS, POSE], [], rules, FUSED)  # type: ignore[arg-type]
    assert s.startswith("Inconclusive: Face 1's mouth does not follow the voice. (The cues the fusion model reads give a "
                        "score of 0.10, \"likely real\" on their own; the lip-sync rule raised the label to \"inconclusive\".)")
    assert "Also, the mannerism rule fired: Face 1 moves like someone else. The label was already \"inconclusive\"" in s
    assert "Strongest finding" not in s
