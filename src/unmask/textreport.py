"""Plain-text rendering of a report for the terminal: verdict, score, strongest evidence."""

from __future__ import annotations

from pathlib import Path

from unmask.report.build import LABEL_WORDS, Report


def format_report(report: Report, n_evidence: int = 3) -> str:
    d = report.data
    v = d["verdict"]
    name = Path(d["input"]["path"]).name
    score = "" if v["score"] is None else f"  score {v['score']:.2f}"
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
    skipped = [a["name"] for a in d["analyzers"] if a["status"] != "ok"]
    if skipped:
        lines.append("  not run: " + ", ".join(f"{a['name']} ({a['reason']})" for a in d["analyzers"] if a["status"] != "ok"))
    for w in d["sampling"]["warnings"]:
        lines.append(f"  warning: {w}")
    lines.append(f"  analysed {d['sampling']['frames_analyzed']} of {d['sampling']['frames_decoded']} decoded frames in {d['timings']['total_s']:.1f} s")
    return "\n".join(lines)
