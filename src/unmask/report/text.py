"""Plain-text rendering of a report for the terminal: verdict, score, strongest evidence."""

from __future__ import annotations

from pathlib import Path

from unmask.report.model import InputFacts, Report, Sampling
from unmask.report.words import LABEL_WORDS, rule_change_words, verdict_digits
from unmask.types import SCORED_LABELS

CONCLUSION_WORDS = {
    "consistent": "consistent with this person",
    "impersonator": "this person's face, someone else's movements",
    "voice_mismatch": "this person's face, someone else's voice",
    "mannerisms_unclear": "this person's face; movements unclear",
    "mannerisms_not_checked": "this person's face; movements not compared",
    "not_this_person": "not this person",
    "cannot_assess": "cannot check",
}


def format_report(report: Report, n_evidence: int = 3, name: str | None = None) -> str:
    """The report as terminal lines; ``name`` names the file (default: the name the report records)."""
    v = report.verdict
    name = name or Path(report.input.path).name
    score = "" if v.score is None else f"  score {v.score:.{verdict_digits(v)}f}"
    lines = [f"{name}: {LABEL_WORDS[v.label].upper()}{score}", f"  {v.summary}"]
    if v.label in SCORED_LABELS:
        drivers = [dr for dr in v.drivers if dr.detail not in v.summary]  # the summary may quote one
        if drivers:
            lines.append("  what else weighed:" if len(drivers) < len(v.drivers) else "  what weighed most:")
            lines += [f"  - {dr.detail}" for dr in drivers]
        if report.evidence[:n_evidence]:
            lines.append("  findings:")
        for e in report.evidence[:n_evidence]:
            lines.append(f"  - [{e.analyzer.replace('_', ' ')}] {e.detail}")
    ref = report.reference
    if ref is not None:
        ident = "" if ref.identity.score is None else f"identity {ref.identity.score:.2f}"
        m = ref.mannerisms
        mann = f"mannerisms {m.score:.2f} over {m.windows} windows" if m.checked else "mannerisms not compared"
        vc = ref.voice  # absent before schema 1.4
        voice = "" if vc is None else (f"; voice {vc.score:.2f}" if vc.checked else "; voice not compared")
        version = f" v{ref.profile_version}" if ref.profile_version is not None else ""
        lines.append(f"  claim: {ref.claimed}{version}: {CONCLUSION_WORDS[ref.conclusion]}"
                     + (f" ({ident}; {mann}{voice})" if ident else ""))
    # provenance is the provenance module's own document (Provenance.to_dict), read by its keys
    cred = (report.provenance or {}).get("credential") or {}
    if cred.get("present"):
        signer = cred.get("signer") or {}
        who = signer.get("common_name") or signer.get("issuer") or "an unnamed signer"
        ai = "; declares AI generation" if cred.get("declares_ai") else ""
        cap = "; capture device, no edits" if cred.get("capture_unedited") else ""
        lines.append(f"  content credentials: {cred['state']}, signed by {who}{ai}{cap}")
    for rule in v.rules:
        change = rule_change_words(rule.rule, rule.from_label, rule.to_label)
        lines.append(f"  rule {rule.rule} fired ({change}): {rule.detail}")
    skipped = [a for a in report.analyzers if a.status != "ok"]
    if skipped:
        lines.append("  not run: " + ", ".join(f"{a.name} ({a.reason})" for a in skipped))
    smp = report.sampling
    for w in smp.warnings:
        lines.append(f"  warning: {w}")
    # timings is an open set of stage names (a mapping in the model), so the total is read by its key
    analysed = (f"analysed {smp.frames_analyzed} of {smp.frames_decoded} decoded frames "
                f"in {report.timings['total_s']:.1f} s")
    examined = examined_words(report.input, smp)
    lines.append(f"  {examined}; {analysed}" if examined else f"  {analysed}")
    for pers in report.persons:
        if len(pers.spans) > 1:
            spans = ", ".join(f"{sp.t_start:.1f}–{sp.t_end:.1f}" for sp in pers.spans[:8])
            more = f" and {len(pers.spans) - 8} more" if len(pers.spans) > 8 else ""
            lines.append(f"  face {pers.id}: seen in {len(pers.spans)} stretches ({spans} s{more})")
    return "\n".join(lines)


def examined_words(inp: InputFacts, smp: Sampling) -> str:
    """"examined 96 s of 600 s (16 %) in 48 bursts spread over the whole video", or "examined all 10.0 s";
    empty for a still or a report made before ``sampling.examined_s`` existed."""
    dur = float(inp.duration_s or 0.0)
    if inp.kind == "image" or dur <= 0 or smp.examined_s is None:
        return ""
    ex = float(smp.examined_s)
    pct = 100.0 * ex / dur
    if smp.segments > 1:
        return (f"examined {ex:.0f} s of {dur:.0f} s ({pct:.0f} %) in {smp.segments} bursts "
                f"spread over the whole video")
    if pct >= 99.5:
        return f"examined all {dur:.1f} s"
    return f"examined {ex:.1f} of {dur:.1f} s ({pct:.0f} %)"
