"""Plain-text rendering of a report for the terminal: verdict, score, strongest evidence."""

from __future__ import annotations

from pathlib import Path

from unmask.report.build import LABEL_WORDS, Report, printed_digits, rule_change_words

CONCLUSION_WORDS = {
    "consistent": "consistent with this person",
    "impersonator": "this person's face, someone else's movements",
    "mannerisms_unclear": "this person's face; movements unclear",
    "mannerisms_not_checked": "this person's face; movements not compared",
    "not_this_person": "not this person",
    "cannot_assess": "cannot check",
}


def format_report(report: Report, n_evidence: int = 3, name: str | None = None) -> str:
    """The report as terminal lines; ``name`` names the file (default: the name the report records)."""
    d = report.data
    v = d["verdict"]
    name = name or Path(d["input"]["path"]).name
    score = "" if v["score"] is None else f"  score {v['score']:.{printed_digits(v)}f}"
    lines = [f"{name}: {LABEL_WORDS[v['label']].upper()}{score}", f"  {v['summary']}"]
    if v["label"] in ("likely_fake", "inconclusive", "likely_real"):
        drivers = [dr for dr in v["drivers"] if dr["detail"] not in v["summary"]]  # the summary may quote one
        if drivers:
            lines.append("  what else weighed:" if len(drivers) < len(v["drivers"]) else "  what weighed most:")
            lines += [f"  - {dr['detail']}" for dr in drivers]
        if d["evidence"][:n_evidence]:
            lines.append("  findings:")
        for e in d["evidence"][:n_evidence]:
            lines.append(f"  - [{e['analyzer'].replace('_', ' ')}] {e['detail']}")
    ref = d.get("reference")
    if ref:
        ident = "" if ref["identity"]["score"] is None else f"identity {ref['identity']['score']:.2f}"
        m = ref["mannerisms"]
        mann = f"mannerisms {m['score']:.2f} over {m['windows']} windows" if m["checked"] else "mannerisms not compared"
        version = f" v{ref['profile_version']}" if ref["profile_version"] is not None else ""
        lines.append(f"  claim: {ref['claimed']}{version}: {CONCLUSION_WORDS[ref['conclusion']]}"
                     + (f" ({ident}; {mann})" if ident else ""))
    for rule in v.get("rules", []):
        change = rule_change_words(rule["rule"], rule["from_label"], rule["to_label"])
        lines.append(f"  rule {rule['rule']} fired ({change}): {rule['detail']}")
    skipped = [a["name"] for a in d["analyzers"] if a["status"] != "ok"]
    if skipped:
        lines.append("  not run: " + ", ".join(f"{a['name']} ({a['reason']})" for a in d["analyzers"] if a["status"] != "ok"))
    for w in d["sampling"]["warnings"]:
        lines.append(f"  warning: {w}")
    lines.append(f"  analysed {d['sampling']['frames_analyzed']} of {d['sampling']['frames_decoded']} decoded frames in {d['timings']['total_s']:.1f} s")
    return "\n".join(lines)
