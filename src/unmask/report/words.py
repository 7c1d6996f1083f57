"""The verdict in words: label names, score digits, what drove the score, the summary sentence.

Shared by the report builder, the console text, the HTML page and the service, so a label or a
score reads the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from unmask.fusion import FusionModel, Verdict, unvalidated_kind_reason
from unmask.report.sections import rounded
from unmask.types import SCORED_LABELS, AnalyzerResult, FaceTrack, Label, MediaContext

if TYPE_CHECKING:
    from unmask.provenance import Provenance
    from unmask.report.model import ReportVerdict
    from unmask.rules import RuleHit

TOP_DRIVERS = 3  # fusion inputs that moved the score most, named in the verdict
MIN_DRIVER_LOGIT = 0.15  # smaller pushes are not worth a sentence
SUMMARY_SPANS = 6  # a person's stretches listed in the summary (the rest are counted; all are in ``persons``)

#: combination rules (``unmask.rules``) as a reader would name them
RULE_WORDS = {"lip_sync_mismatch": "lip-sync rule", "foreign_mannerisms": "mannerism rule",
              "voice_mismatch": "voice rule", "damaged_input": "damaged-file rule",
              "declared_synthetic": "declared-AI rule", "capture_credential": "capture-credential rule"}
_CONFIDENCE: dict[str, int] = {label: i for i, label in enumerate(SCORED_LABELS)}

#: each label as a reader sees it
LABEL_WORDS: dict[str, str] = {
    Label.LIKELY_REAL: "Likely real",
    Label.INCONCLUSIVE: "Inconclusive",
    Label.LIKELY_FAKE: "Likely manipulated",
    Label.NO_FACE: "No face found",
    Label.CANNOT_ASSESS: "Cannot assess",
    Label.DECLARED_SYNTHETIC: "Declared AI-generated",
}


def score_digits(score: float, label: str, likely_real: float, likely_fake: float) -> int:
    """Decimals to print a score and its thresholds with, so the printed numbers never contradict ``label``.

    ``label`` is the fusion's own label for ``score`` (before any rule): a score of 0.8678 under a
    threshold of 0.8718 must not read "0.87; likely manipulated at ≥ 0.87" above "Inconclusive".
    """
    def agrees(nd: int) -> bool:
        s, r, f = (float(f"{x:.{nd}f}") for x in (score, likely_real, likely_fake))
        if label == Label.LIKELY_FAKE:
            return s >= f
        if label == Label.LIKELY_REAL:
            return s < r
        if label == Label.INCONCLUSIVE:
            return r <= s < f
        return True

    return next((nd for nd in range(2, 7) if agrees(nd)), 4)


def printed_digits(verdict: Mapping[str, Any]) -> int:
    """:func:`score_digits` for a saved report's ``verdict`` block (2 when it has no score)."""
    if verdict.get("score") is None:
        return 2
    th = verdict["thresholds"]
    label = verdict.get("fusion_label") or verdict["label"]
    return score_digits(float(verdict["score"]), label, float(th["likely_real"]), float(th["likely_fake"]))


def verdict_digits(verdict: ReportVerdict) -> int:
    """:func:`printed_digits` for a typed report's verdict (2 when it has no score)."""
    if verdict.score is None:
        return 2
    th = verdict.thresholds
    return score_digits(float(verdict.score), verdict.label_before_rules, float(th.likely_real),
                        float(th.likely_fake))


def score_words(score: float, label: str, likely_real: float, likely_fake: float) -> str:
    """"score 0.63; likely manipulated at ≥ 0.87, likely real below 0.27", with as many digits as the label needs,
    and "just below the likely-manipulated threshold" where two digits would have hidden the gap."""
    nd = score_digits(score, label, likely_real, likely_fake)
    text = f"score {score:.{nd}f}"
    if nd > 2:
        near_fake = abs(score - likely_fake) <= abs(score - likely_real)
        edge = likely_fake if near_fake else likely_real
        side = "at or just above" if score >= edge else "just below"
        text += f", {side} the {'likely-manipulated' if near_fake else 'likely-real'} threshold"
    return f"{text}; likely manipulated at ≥ {likely_fake:.{nd}f}, likely real below {likely_real:.{nd}f}"


def _fmt(x: float) -> str:
    return f"{x:.2g}" if abs(x) < 10 else f"{x:.0f}"


def drivers(verdict: Verdict, fusion: FusionModel, results: Sequence[AnalyzerResult]) -> list[dict[str, Any]]:
    """The fusion inputs that moved the verdict's score most, in the verdict's direction, in plain words."""
    top = verdict.top_track
    if top is None or verdict.score is None:
        return []
    toward_fake = verdict.label != Label.LIKELY_REAL
    by_name = {r.name: r for r in results}
    items = sorted(top.feature_contributions.items(), key=lambda kv: (-kv[1] if toward_fake else kv[1], kv[0]))
    out = []
    for name, c in items[:TOP_DRIVERS]:
        if (c if toward_fake else -c) < MIN_DRIVER_LOGIT:
            break
        analyzer, feature = name.split(".", 1)
        value = top.features.get(name)
        typical = fusion.typical_real(name)
        cls = by_name.get(analyzer)
        words, how = cls.describe_feature(feature) if cls else (feature.replace("_", " "), "")
        if value is None:
            detail = f"{analyzer.replace('_', ' ').capitalize()}: {words} could not be measured."
        else:
            said = f"{words}, {how}," if how else words
            detail = f"{analyzer.replace('_', ' ').capitalize()}: {said} is {_fmt(value)} here"
            if typical is not None:
                detail += f", against about {_fmt(typical)} in the real videos unmask was calibrated on"
            # say what the calibration learned, not what the analyzer assumed: the two can disagree
            # (e.g. less colour difference than in real videos went with the development fakes)
            higher = (fusion.weight(name) or c) > 0
            where = "in that calibration" if typical is not None else "in unmask's calibration"
            if c > 0:
                detail += f"; {where}, {'higher' if higher else 'lower'} values went with manipulation."
            else:
                detail += f"; {where}, {'lower' if higher else 'higher'} values went with real recordings."
        out.append(
            {
                "analyzer": analyzer,
                "feature": feature,
                "value": rounded(value, 6),
                "typical_real": rounded(typical, 6),
                "contribution": rounded(c),
                "detail": detail,
            }
        )
    return out


def rule_change_words(rule: str, from_label: str, to_label: str) -> str:
    """What a rule did to the label: 'raised "likely real" to "inconclusive"' (a combination rule raising
    suspicion), 'changed ...' (the damaged-file rule withdrawing confidence), or 'left ... as it was'."""
    frm, to = LABEL_WORDS[from_label].lower(), LABEL_WORDS[to_label].lower()
    if from_label == to_label:
        return f"left \"{frm}\" as it was"
    verb = (
        "raised"
        if rule != "damaged_input" and _CONFIDENCE.get(to_label, -1) > _CONFIDENCE.get(from_label, 9)
        else "changed"
    )
    return f"{verb} \"{frm}\" to \"{to}\""


def summary(verdict: Verdict, ctx: MediaContext, ranked: list[dict[str, Any]], drivers: list[dict[str, Any]],
             rules: Sequence[RuleHit] = (), reference: Mapping[str, Any] | None = None,
             fused: frozenset[str] | None = None, provenance: Provenance | None = None) -> str:
    declared = next((r for r in rules if r.rule == "declared_synthetic"), None)
    if declared is not None:  # the file's own signed declaration leads; the cues follow, under their own label
        before = replace(verdict, label=declared.from_label)
        inner = summary(before, ctx, ranked, drivers, [r for r in rules if r is not declared], reference, fused)
        return f"{LABEL_WORDS[Label.DECLARED_SYNTHETIC]}: {declared.detail} What the cues say on their own: {inner}"
    damage = next((r for r in rules if r.rule == "damaged_input"), None)
    if damage is None:
        s = fusion_summary(verdict, ctx, ranked, drivers, rules, fused)
    elif verdict.label == Label.CANNOT_ASSESS:
        s = f"{LABEL_WORDS[Label.CANNOT_ASSESS]}: {damage.detail}"
        others = [r for r in verdict.reasons if not r.startswith("the file is damaged")]
        if others:
            s += f" Besides, {'; '.join(others)}."
    else:  # the damage leads; what the cues say on the decoded part follows, under the label they gave
        before = replace(verdict, label=damage.from_label)
        inner = fusion_summary(before, ctx, ranked, drivers, [r for r in rules if r is not damage], fused)
        s = f"{LABEL_WORDS[verdict.label]}: {damage.detail} On the part that could be decoded: {inner}"
    if reference is not None:
        s += f" Claimed to be {reference['claimed']}: {reference['statement']}"
    if provenance is not None and provenance.credential.present and not any(r.analyzer == "provenance" for r in rules):
        s += f" Provenance: {provenance.findings[0]}" if provenance.findings else ""
    return s


def rule_name(rule: str) -> str:
    return RULE_WORDS.get(rule, rule.replace("_", " ") + " rule")


def fusion_summary(verdict: Verdict, ctx: MediaContext, ranked: list[dict[str, Any]], drivers: list[dict[str, Any]],
                    rules: Sequence[RuleHit] = (), fused: frozenset[str] | None = None) -> str:
    """The verdict in words, saying what moved it: the fusion's cues, or a combination rule that raised the label.

    ``ranked`` is every finding, strongest first; ``fused`` the analyzers the fusion model reads. The
    "strongest finding" is only ever one the fusion read: a lip-sync or reference finding did not
    move the score, so it is named as the rule it is (and whether it changed the label), never as
    what the verdict rests on.
    """
    words = LABEL_WORDS[verdict.label]
    raised = [r for r in rules if r.to_label != r.from_label]
    idle = [r for r in rules if r.to_label == r.from_label]
    idle_words = "".join(f" Also, the {rule_name(r.rule)} fired: {r.detail} The label was already "
                         f"\"{LABEL_WORDS[r.from_label].lower()}\", so it changed nothing." for r in idle)
    if raised and verdict.score is not None:
        first = raised[0].from_label
        which = " and the ".join(rule_name(r.rule) for r in raised)
        nd = score_digits(verdict.score, first, verdict.likely_real, verdict.likely_fake)
        return (
            f"{words}: {' '.join(r.detail for r in raised)} (The cues the fusion model reads give a score of "
            f'{verdict.score:.{nd}f}, "{LABEL_WORDS[first].lower()}" on their own; the {which} raised the label to '
            f'"{words.lower()}".){idle_words}'
        )
    if verdict.label == Label.NO_FACE:
        return f"{words}: no face was found in the {len(ctx.sampled)} analysed frames, so nothing was judged."
    if verdict.label == Label.CANNOT_ASSESS:
        if verdict.reasons == (unvalidated_kind_reason(ctx.info.kind),):  # the real reason: no model, not the faces
            return f"{words}: {verdict.reasons[0]}."
        return f"{words}: the faces found cannot support a judgement ({'; '.join(verdict.reasons)})."
    assert verdict.score is not None and verdict.track_id is not None
    tr = next(t for t in ctx.tracks if t.id == verdict.track_id)
    where = where_seen(tr, ctx.person_tracks(tr.id)) if not ctx.is_still else f"face {tr.id}"
    fusion_label = rules[0].from_label if rules else verdict.label
    numbers = score_words(verdict.score, fusion_label, verdict.likely_real, verdict.likely_fake)
    s = f"{words} ({numbers}). The most suspicious face is {where}."
    # how the score was formed when several faces or stretches were scored (fusion.verdict_of); the other
    # reasons are the quality gate's, "face N not assessed: ..."
    s += "".join(f" {r[0].upper()}{r[1:]}." for r in verdict.reasons if not r.startswith("face "))
    read = [e for e in ranked if fused is None or e["analyzer"] in fused]
    if read and verdict.label != Label.LIKELY_REAL:
        s += f" Strongest finding: {read[0]['detail']}"
    elif drivers:
        s += f" What weighed most: {drivers[0]['detail']}"
    return s + idle_words


def where_seen(tr: FaceTrack, own: Sequence[FaceTrack]) -> str:
    """"face 3 (0.0–2.2 s)", or for a person seen in several stretches all of them and the one scored.

    Written with the track's id: the report's renamer turns it into the person's number.
    """
    if len(own) <= 1:
        return f"face {tr.id} ({tr.start_t:.1f}–{tr.end_t:.1f} s)"
    spans = ", ".join(f"{t.start_t:.1f}–{t.end_t:.1f}" for t in own[:SUMMARY_SPANS])
    more = f" and {len(own) - SUMMARY_SPANS} more" if len(own) > SUMMARY_SPANS else ""
    frames = sum(len(t) for t in own)
    return (f"face {tr.id}, seen in {len(own)} stretches ({spans} s{more}; {frames} analysed frames), "
            f"most suspicious at {tr.start_t:.1f}–{tr.end_t:.1f} s")


_REASON_FACE = re.compile(r"^face (\d+)\b")


def reasons_per_person(reasons: Sequence[str], ctx: MediaContext) -> tuple[str, ...]:
    """The quality gate's reasons, one per person (not one per stretch), in track-id words."""
    person_ids = ctx.person_ids()
    sizes: dict[int, int] = {}
    for pid in person_ids.values():
        sizes[pid] = sizes.get(pid, 0) + 1
    first: dict[int, int] = {}
    count: dict[int, int] = {}
    out: list[str] = []
    for r in reasons:
        m = _REASON_FACE.match(r)
        if m is None:
            out.append(r)
            continue
        pid = person_ids.get(int(m.group(1)), int(m.group(1)))
        count[pid] = count.get(pid, 0) + 1
        if pid not in first:
            first[pid] = len(out)
            out.append(r)
    for pid, i in first.items():
        if sizes.get(pid, 1) > 1:
            out[i] += f"; likewise {count[pid] - 1} more of its {sizes[pid]} stretches" if count[pid] > 1 \
                else f" (1 of its {sizes[pid]} stretches)"
    return tuple(out)
