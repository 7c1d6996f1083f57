"""One self-contained HTML file per report: readable, printable, citable, and it works offline.

Everything is inline (CSS, a few lines of JS, pictures as ``data:`` URIs, the timeline as
SVG), nothing is fetched, and the JSON report is embedded so the file is the evidence.
The same report and attachments give the same bytes (no clock, stable order); callers
add provenance such as a scan id or date through ``facts``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from unmask.report.attachments import Attachment
from unmask.report.codec import ReportError
from unmask.report.model import PersonEntry, Report, ReportVerdict, Span
from unmask.report.words import LABEL_WORDS, RULE_WORDS, verdict_digits
from unmask.types import Label

SUSPICIOUS_LEVEL = 0.5  # timeline seconds at or above this mean per-frame suspicion are marked
MAX_LANES = 8  # rows of face bars under the timeline

LABEL_TONE: dict[str, str] = {
    Label.LIKELY_FAKE: "fake",
    Label.INCONCLUSIVE: "unsure",
    Label.LIKELY_REAL: "real",
    Label.NO_FACE: "none",
    Label.CANNOT_ASSESS: "none",
    Label.DECLARED_SYNTHETIC: "fake",
}

LABEL_MEANING: dict[str, str] = {
    Label.LIKELY_FAKE: "Look closely: the cues unmask measures point to manipulation. This is not proof.",
    Label.INCONCLUSIVE: "The cues point neither way clearly enough for a verdict.",
    Label.LIKELY_REAL: "None of the cues unmask measures fired. This is not an authentication.",
    Label.NO_FACE: "No face was found, so nothing was judged.",
    Label.CANNOT_ASSESS: "No verdict is given: the summary and the reasons below say why.",
    Label.DECLARED_SYNTHETIC: ("The file's own valid Content Credentials declare it made with AI "
                               "(see Provenance below)."),
}
#: a damaged file's capped label: the cues may point clearly, the file is what is in doubt
DAMAGED_MEANING = "Part of the file could not be decoded, so no confident verdict is given (see why below)."
#: likely_real above listed findings: some cues did fire, they did not add up to manipulation
LIKELY_REAL_WITH_FINDINGS = ("The cues unmask measures do not add up to manipulation; the findings listed below "
                             "were outweighed by the rest. This is not an authentication.")

#: the reference check's conclusion as a headline: what the face and the movements say together
CONCLUSION_HEADLINE = {
    "consistent": "Same face, same way of moving → consistent with {name} (not proof)",
    "impersonator": "Same face, foreign mannerisms → likely {name}'s face swapped onto an impersonator",
    "voice_mismatch": "Same face, someone else's voice → possibly {name}'s face over an impersonator, or a dub",
    "mannerisms_unclear": "Same face, mannerisms unclear → neither confirms nor contradicts {name}",
    "mannerisms_not_checked": "Same face, mannerisms not compared → only the face was checked",
    "not_this_person": "Different face → not {name}, which is not by itself a fake",
    "cannot_assess": "No usable face → whether this is {name} cannot be checked",
}
#: card titles where the analyzer's module name is not plain words
ANALYZER_TITLES = {"av_sync": "Lip sync (av_sync)", "reference": "Reference check (claimed person)",
                   "blend_cnn": "Learned blend detector (blend_cnn)",
                   "animation": "Talking-head detector (animation)"}
CONCLUSION_TONE = {
    "impersonator": "fake",
    "voice_mismatch": "fake",
    "mannerisms_unclear": "unsure",
    "consistent": "real",
}


# timeline geometry (SVG user units)
_W, _PLOT_H, _LEFT, _RIGHT, _TOP, _LANE_H = 860, 130, 52, 14, 10, 14


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=PackageLoader("unmask.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["words"] = lambda s: str(s).replace("_", " ")
    env.filters["num"] = _num
    env.filters["secs"] = lambda t: "" if t is None else f"{float(t):.1f} s"
    env.filters["first_upper"] = lambda s: str(s)[:1].upper() + str(s)[1:]  # `capitalize` would lower the rest (names)
    env.globals["analyzer_title"] = lambda name: ANALYZER_TITLES.get(name, name.replace("_", " ").capitalize())
    return env


def _num(x: Any, nd: int = 2) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return "–"
        return f"{x:.{nd}f}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def data_uri(a: Attachment) -> str:
    return f"data:{a.media_type};base64,{base64.b64encode(a.data).decode('ascii')}"


def _ticks(duration: float) -> list[float]:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if duration / step <= 12:
            break
    n = int(duration // step)
    return [round(i * step, 3) for i in range(n + 1)]


def _known(t: float | None, what: str) -> float:
    """A time the builder always records; a document without it is not one this package wrote."""
    if t is None:
        raise ReportError(f"{what} has no time")
    return t


def timeline(report: Report) -> dict[str, Any] | None:
    """Shapes for the score-over-time SVG: per-second bars, suspicious seconds, evidence spans, face lanes."""
    inp = report.input
    if inp.kind == "image":
        return None
    points = report.timeline
    duration = float(inp.duration_s or 0.0)
    duration = max(duration, max((_known(p.t, "a timeline second") + 1.0 for p in points), default=0.0), 1.0)
    plot_w = _W - _LEFT - _RIGHT

    def x(t: float) -> float:
        return round(_LEFT + plot_w * min(max(t, 0.0), duration) / duration, 2)

    def y(s: float) -> float:
        return round(_TOP + _PLOT_H * (1.0 - min(max(s, 0.0), 1.0)), 2)

    bars: list[dict[str, Any]] = []
    for p in points:
        s = p.score
        if s is None:
            continue
        t0 = _known(p.t, "a timeline second")
        t1 = min(t0 + 1.0, duration)
        bars.append({"x": x(t0), "w": max(round(x(t1) - x(t0) - 1, 2), 1.0), "y": y(s), "h": round(y(0) - y(s), 2),
                     "suspicious": s >= SUSPICIOUS_LEVEL, "title": f"{t0:.0f}–{t1:.0f} s: suspicion {s:.2f}"})
    spans = []
    evidence = [e for a in report.analyzers for e in a.evidence]
    for e in sorted(evidence, key=lambda e: (-(e.strength or 0), e.t_start or 0))[:12]:
        t0, t1 = float(e.t_start or 0), float(e.t_end or 0)
        t1 = max(t1, t0 + duration / 200)  # a one-frame finding stays visible
        spans.append(
            {
                "x": x(t0),
                "w": max(round(x(t1) - x(t0), 2), 1.5),
                "title": f"{t0:.1f}–{float(e.t_end or 0):.1f} s: [{e.analyzer.replace('_', ' ')}] {e.detail}",
            }
        )
    lanes_top = _TOP + _PLOT_H + 24
    lanes: list[dict[str, Any]] = []
    rows_end: list[float] = []  # faces packed into as few rows as their times allow (bursts share rows)
    vperson = verdict_person(report)
    for f in sorted(report.faces, key=lambda f: (_known(f.t_start, f"face {f.id}"), f.id)):
        t0, f_end = float(_known(f.t_start, f"face {f.id}")), float(_known(f.t_end, f"face {f.id}"))
        t1 = max(f_end, t0 + duration / 200)
        row = next((i for i, end in enumerate(rows_end) if end + duration / 100 < t0), None)
        if row is None:
            if len(rows_end) == MAX_LANES:
                continue
            rows_end.append(t1)
            row = len(rows_end) - 1
        rows_end[row] = t1
        w = max(round(x(t1) - x(t0), 2), 2.0)
        pid = f.person_id  # one person, one number, in every stretch it was seen
        lanes.append(
            {
                "x": x(t0),
                "w": w,
                "y": lanes_top + row * (_LANE_H + 4),
                "label": str(pid) if w >= 16 else "",
                "verdict_face": pid == vperson,
                "title": f"face {pid}: {t0:.1f}–{f_end:.1f} s, seen in {f.n_observations} analysed frames",
            }
        )
    height = lanes_top + len(rows_end) * (_LANE_H + 4) + 6
    suspicious = [b["title"].split(":")[0] for b in bars if b["suspicious"]]
    return {
        "width": _W, "height": height, "left": _LEFT, "right": _W - _RIGHT, "top": _TOP, "bottom": y(0),
        "grid": [{"y": y(s), "label": f"{s:.1f}"} for s in (0.0, 0.5, 1.0)],
        "level_y": y(SUSPICIOUS_LEVEL),
        "ticks": [{"x": x(t), "label": f"{t:g}"} for t in _ticks(duration)],
        "bars": bars, "spans": spans, "lanes": lanes, "lanes_top": lanes_top, "rows": len(rows_end),
        "suspicious": suspicious, "duration": duration,
    }


def verdict_person(report: Report) -> int | None:
    """The person (face number) the verdict names (``person_id``: every report loads with one, None when unknown)."""
    return report.verdict.person_id


def people(report: Report, thumbs: Mapping[int | None, Attachment]) -> list[dict[str, Any]]:
    """One card per person: all its stretches, its pooled score, a thumbnail of any of its tracks."""
    by_track = {f.id: f for f in report.faces}
    persons = report.persons or tuple(
        PersonEntry(id=f.id, track_ids=(f.id,), spans=(Span(f.id, f.t_start, f.t_end, f.n_observations),),
                    n_observations=f.n_observations, seen_s=None, assessable=f.assessable, score=f.score)
        for f in report.faces)
    vperson = verdict_person(report)
    out = []
    for pers in persons:
        fs = [by_track[t] for t in pers.track_ids if t in by_track]
        longest = max(fs, key=lambda f: (f.n_observations, -f.id)) if fs else None
        spans = [f"{float(sp.t_start or 0):.1f}–{float(sp.t_end or 0):.1f}" for sp in pers.spans]
        out.append({
            "id": pers.id, "chosen": pers.id == vperson,
            "thumb": next((thumbs[t] for t in pers.track_ids if t in thumbs), None),
            "spans": ", ".join(spans[:8]) + (f" and {len(spans) - 8} more" if len(spans) > 8 else ""),
            "n_spans": len(spans), "n_observations": pers.n_observations,
            "median_size_px": longest.median_size_px if longest else None,
            "assessable": pers.assessable, "score": pers.score,
            "gate_reason": next((f.gate_reason for f in fs if f.gate_reason), None),
        })
    return out


def gauge(v: ReportVerdict) -> dict[str, Any] | None:
    """Score bar geometry (0..1) with both thresholds, as percentages."""
    if v.score is None:
        return None
    th = v.thresholds
    return {
        "score": 100 * float(v.score),
        "real": 100 * float(th.likely_real),
        "fake": 100 * float(th.likely_fake),
    }


def reference_card(report: Report) -> dict[str, Any] | None:
    """The claimed-person check in words: a headline, and one line each for the face and the movements."""
    ref = report.reference
    if ref is None:
        return None
    name, c = ref.claimed, ref.conclusion
    ident, mann = ref.identity, ref.mannerisms
    if ident.score is None:
        face = "not compared (no face could be recognised)"
    elif ident.score >= 0.5:
        face = f"the same face as in {name}'s enrolled footage"
    else:
        face = f"a different face from {name}'s enrolled footage"
    if not mann.checked:
        still = report.input.kind == "image"
        moves = ("not compared: a still image has no movement" if still else
                 "not compared: the face needs at least 4 s in view at a stretch")
    elif c == "consistent":
        moves = f"moves like {name}"
    elif c == "impersonator":
        moves = f"does not move like {name}: the way its expressions and head movements go together is someone else's"
    elif c == "mannerisms_unclear":
        moves = f"unclear whether it moves like {name}"
    elif (mann.score or 0) >= 0.8:  # as conclusion.py: only then worth a word
        moves = f"its movements resemble {name}'s, as {name}'s own footage with another face swapped in would"
    else:
        moves = "compared, but with someone else's face this says little"
    v = ref.voice  # absent before schema 1.4
    if v is None:
        voice = None
    elif not v.checked:
        voice = f"not compared: {v.skipped_because}"
    else:
        lo, hi = v.own_range or (None, None)
        same = (v.score or 0) >= 0.5
        voice = (
            f"{'the same voice as' if same else 'a different voice from'} {name}'s enrolled speech: voice score "
            f"{v.score:.2f}, similarity {v.similarity:.2f} ({name}'s enrolled speech {lo:.2f}–{hi:.2f} against "
            f"itself; other "
            f"speakers mostly below {v.others_below:.2f}) over {v.speech_s:.1f} s of speech"
        )
    return {"headline": CONCLUSION_HEADLINE.get(c, c).format(name=name), "tone": CONCLUSION_TONE.get(c, "none"),
            "face": face, "moves": moves, "voice": voice}


def rule_lines(v: ReportVerdict) -> list[dict[str, str]]:
    """Each combination rule that fired: its name and what it did to the label."""
    out = []
    for r in v.rules:
        name = RULE_WORDS.get(r.rule, r.rule.replace("_", " ") + " rule")
        if r.to_label != r.from_label:
            verb = "raised" if r.rule != "damaged_input" else "changed"
            did = (f"{verb} the verdict from “{LABEL_WORDS[r.from_label].lower()}” to "
                   f"“{LABEL_WORDS[r.to_label].lower()}”")
        else:
            did = f"fired, but the verdict was already “{LABEL_WORDS[r.from_label].lower()}”: it changed nothing"
        out.append({"name": name, "did": did, "detail": r.detail, "rule": r.rule})
    return out


def _embedded_json(data: Mapping[str, Any]) -> Markup:
    """The report as JSON that is safe inside ``<script>`` (no ``</script>``, no HTML comment openers)."""
    text = json.dumps(data, indent=None, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def render_html(
    report: Report, facts: Sequence[tuple[str, str]] = (), settings: Mapping[str, Any] | None = None
) -> str:
    """The report as one self-contained HTML document.

    ``facts`` are extra (label, value) rows for the provenance table, e.g. the service's scan id
    and date; ``settings`` is the configuration that produced it (``ScanConfig.to_dict()``).
    """
    v = report.verdict
    atts = report.attachments
    thumbs = {a.track_id: a for a in atts if a.kind == "thumbnail"}
    heatmaps: dict[str, list[Attachment]] = {}
    for a in atts:
        if a.kind == "heatmap" and a.analyzer:
            heatmaps.setdefault(a.analyzer, []).append(a)
    flat_settings = _flatten(settings) if settings else []
    meaning = label_meaning(report)
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            d=report,
            v=v,
            inp=report.input,
            words=LABEL_WORDS[v.label],
            tone=LABEL_TONE.get(v.label, "none"),
            meaning=meaning,
            nd=verdict_digits(v),
            gauge=gauge(v),
            tl=timeline(report),
            thumbs=thumbs,
            people=people(report, thumbs),
            vperson=verdict_person(report),
            pmap={f.id: f.person_id for f in report.faces},
            moments=[a for a in atts if a.kind == "moment"],
            heatmaps=heatmaps,
            uri=data_uri,
            facts=list(facts),
            settings=flat_settings,
            report_json=_embedded_json(report.data),  # the JSON document itself: the file is the evidence
            level=SUSPICIOUS_LEVEL,
            title=_title(report),
            prov=report.provenance,  # the provenance module's own document, read by its keys in the template
            ref=report.reference,
            refcard=reference_card(report),
            rules=rule_lines(v),
            fusion_words=LABEL_WORDS.get(v.label_before_rules, ""),
            damaged=meaning == DAMAGED_MEANING,
            damaged_rule=any(r.rule == "damaged_input" for r in v.rules),
        )
    )


def label_meaning(report: Report) -> str:
    """The banner's line on what the label means, true for this report (never "none fired" above findings)."""
    v = report.verdict
    if any(r.rule == "damaged_input" and r.to_label != r.from_label for r in v.rules):
        return DAMAGED_MEANING
    if v.label == Label.LIKELY_REAL and report.evidence:
        return LIKELY_REAL_WITH_FINDINGS
    return LABEL_MEANING.get(v.label, "")


def _title(report: Report) -> str:
    name = str(report.input.path).replace("\\", "/").rsplit("/", 1)[-1]
    return f"unmask report: {name} — {LABEL_WORDS[report.verdict.label]}"


def _flatten(m: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, val in m.items():
        if isinstance(val, Mapping):
            out += _flatten(val, f"{prefix}{k}.")
        elif isinstance(val, (list, tuple)):
            out.append((f"{prefix}{k}", ", ".join(map(str, val))))
        else:
            out.append((f"{prefix}{k}", str(val)))
    return out
