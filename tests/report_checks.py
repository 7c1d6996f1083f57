"""Contradictions a reader would catch in a report: words that disagree with the label or with the findings.

``contradictions(report)`` returns one line per problem (empty when the report is consistent). It
reads the JSON and what unmask renders from it (the terminal text and the HTML banner), so it
checks saved reports as well as fresh ones. Used by the synthetic-clip test and the shared-data tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from unmask.report.build import LABEL_WORDS, Report
from unmask.report.html import render_html
from unmask.report.text import format_report

# "score 0.63; likely manipulated at ≥ 0.87, likely real below 0.27" (with an optional "just below ..." between)
_NUMBERS = re.compile(r"score (\d+\.\d+)(?:, [^;]*)?; likely manipulated at ≥ (\d+\.\d+), likely real below (\d+\.\d+)")
# an analyzer's explanation that says nothing was found
_NOTHING_FOUND = re.compile(r"no pasting boundary was found|no sign of|none of the cues|plays smoothly|"
                            r"nothing (?:was )?found|consistently with the rest of the head", re.I)
_CONFIDENT = ("likely_real", "likely_fake")


def _printed_agrees(label: str, s: float, fake: float, real: float) -> bool:
    if label == "likely_fake":
        return s >= fake
    if label == "likely_real":
        return s < real
    if label == "inconclusive":
        return real <= s < fake
    return True


def contradictions(data: Mapping[str, Any]) -> list[str]:
    """Every place the report's words contradict its label or its findings."""
    out: list[str] = []
    v = data["verdict"]
    label, summary = v["label"], v["summary"]
    fusion_label = v.get("fusion_label") or label
    if not summary.startswith(LABEL_WORDS[label]):
        out.append(f"summary does not start with the label's words ({LABEL_WORDS[label]!r}): {summary[:80]!r}")
    # the numbers printed in the summary must put the score on the side of the thresholds its label says
    for m in _NUMBERS.finditer(summary):
        s, fake, real = (float(x) for x in m.groups())
        if not _printed_agrees(fusion_label, s, fake, real):
            out.append(f"summary prints {m.group(0)!r} under the label {fusion_label}")
    # the terminal's header prints the score with as many digits as the label needs
    text = format_report(Report.from_dict(data))
    head = re.search(r"score (\d+\.(\d+))", text.splitlines()[0])
    if head and v["score"] is not None:
        nd, th = len(head.group(2)), v["thresholds"]
        fake, real = (float(f"{th[k]:.{nd}f}") for k in ("likely_fake", "likely_real"))
        if not _printed_agrees(fusion_label, float(head.group(1)), fake, real):
            out.append(f"terminal prints score {head.group(1)} against thresholds {fake}/{real} under {fusion_label}")
    # an analyzer must not say it found nothing above its own findings
    for a in data["analyzers"]:
        if a["status"] == "ok" and a["evidence"] and _NOTHING_FOUND.search(a["explanation"] or ""):
            out.append(f"{a['name']} says {_NOTHING_FOUND.search(a['explanation']).group(0)!r} "
                       f"above {len(a['evidence'])} finding(s)")
    # the HTML banner must not say no cue fired above listed findings
    html = render_html(Report.from_dict(data))
    banner = html[html.find('id="verdict"'):html.find("</section>", html.find('id="verdict"'))]
    if data["evidence"] and re.search(r"None of the cues", banner):
        out.append("the HTML banner says 'None of the cues ... fired' above listed findings")
    # cannot_assess says its real reason
    if label == "cannot_assess":
        reasons = v["reasons"]
        if any("no validated model" in r for r in reasons) and "no validated model" not in summary:
            out.append("cannot_assess for want of a validated model, but the summary blames the faces")
        if not reasons and "damaged" not in summary:
            out.append("cannot_assess without a reason")
    # a damaged file is never confident, and says why in seconds
    if data["sampling"].get("damaged"):
        if label in _CONFIDENT:
            out.append(f"a damaged file got the confident label {label}")
        if "could be decoded" not in summary:
            out.append("a damaged file's summary does not say how much could be decoded")
    return out
