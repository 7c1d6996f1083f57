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
from unmask.report.model import Report
from unmask.report.words import LABEL_WORDS, RULE_WORDS, printed_digits
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


def timeline(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Shapes for the score-over-time SVG: per-second bars, suspicious seconds, evidence spans, face lanes."""
    inp = data["input"]
    if inp["kind"] == "image":
        return None
    points = data["timeline"]
    duration = float(inp["duration_s"] or 0.0)
    duration = max(duration, max((p["t"] + 1.0 for p in points), default=0.0), 1.0)
    plot_w = _W - _LEFT - _RIGHT

    def x(t: float) -> float:
        return round(_LEFT + plot_w * min(max(t, 0.0), duration) / duration, 2)

    def y(s: float) -> float:
        return round(_TOP + _PLOT_H * (1.0 - min(max(s, 0.0), 1.0)), 2)

    bars = []
    for p in points:
        s = p["score"]
        if s is None:
            continue
        t0, t1 = p["t"], min(p["t"] + 1.0, duration)
        bars.append({"x": x(t0), "w": max(round(x(t1) - x(t0) - 1, 2), 1.0), "y": y(s), "h": round(y(0) - y(s), 2),
                     "suspicious": s >= SUSPICIOUS_LEVEL, "title": f"{t0:.0f}–{t1:.0f} s: suspicion {s:.2f}"})
    spans = []
    evidence = [e for a in data["analyzers"] for e in a["evidence"]]
    for e in sorted(evidence, key=lambda e: (-(e["strength"] or 0), e["t_start"] or 0))[:12]:
        t0, t1 = float(e["t_start"] or 0), float(e["t_end"] or 0)
        t1 = max(t1, t0 + duration / 200)  # a one-frame finding stays visible
        spans.append(
            {
                "x": x(t0),
                "w": max(round(x(t1) - x(t0), 2), 1.5),
                "title": f"{t0:.1f}–{float(e['t_end'] or 0):.1f} s: [{e['analyzer'].replace('_', ' ')}] {e['detail']}",
            }
        )
    lanes_top = _TOP + _PLOT_H + 24
    lanes: list[dict[str, Any]] = []
    rows_end: list[float] = []  # faces packed into as few rows as their times allow (bursts share rows)
    for f in sorted(data["faces"], key=lambda f: (f["t_start"], f["id"])):
        t0, t1 = float(f["t_start"]), max(float(f["t_end"]), float(f["t_start"]) + duration / 200)
        row = next((i for i, end in enumerate(rows_end) if end + duration / 100 < t0), None)
        if row is None:
            if len(rows_end) == MAX_LANES:
                continue
            rows_end.append(t1)
            row = len(rows_end) - 1
        rows_end[row] = t1
        w = max(round(x(t1) - x(t0), 2), 2.0)
        pid = f.get("person_id", f["id"])  # one person, one number, in every stretch it was seen
        lanes.append(
            {
                "x": x(t0),
                "w": w,
                "y": lanes_top + row * (_LANE_H + 4),
                "label": str(pid) if w >= 16 else "",
                "verdict_face": pid == verdict_person(data),
                "title": f"face {pid}: {t0:.1f}–{float(f['t_end']):.1f} s, "
                f"seen in {f['n_observations']} analysed frames",
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


def verdict_person(data: Mapping[str, Any]) -> int | None:
    """The person (face number) the verdict names; its track id in reports made before persons existed."""
    v = data["verdict"]
    person: int | None = v.get("person_id", v["track_id"])
    return person


def people(data: Mapping[str, Any], thumbs: Mapping[int | None, Attachment]) -> list[dict[str, Any]]:
    """One card per person: all its stretches, its best score, a thumbnail of any of its tracks."""
    by_track = {f["id"]: f for f in data["faces"]}
    persons = data.get("persons") or [
        {"id": f["id"], "track_ids": [f["id"]], "n_observations": f["n_observations"], "assessable": f["assessable"],
         "score": f["score"], "spans": [{"track_id": f["id"], "t_start": f["t_start"], "t_end": f["t_end"],
                                         "n_observations": f["n_observations"]}]} for f in data["faces"]]
    out = []
    for pers in persons:
        fs = [by_track[t] for t in pers["track_ids"] if t in by_track]
        longest = max(fs, key=lambda f: (f["n_observations"], -f["id"])) if fs else None
        spans = [f"{float(sp['t_start'] or 0):.1f}–{float(sp['t_end'] or 0):.1f}" for sp in pers["spans"]]
        out.append({
            "id": pers["id"], "chosen": pers["id"] == verdict_person(data),
            "thumb": next((thumbs[t] for t in pers["track_ids"] if t in thumbs), None),
            "spans": ", ".join(spans[:8]) + (f" and {len(spans) - 8} more" if len(spans) > 8 else ""),
            "n_spans": len(spans), "n_observations": pers["n_observations"],
            "median_size_px": longest["median_size_px"] if longest else None,
            "assessable": pers["assessable"], "score": pers["score"],
            "gate_reason": next((f["gate_reason"] for f in fs if f["gate_reason"]), None),
        })
    return out


def gauge(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Score bar geometry (0..1) with both thresholds, as percentages."""
    v = data["verdict"]
    if v["score"] is None:
        return None
    th = v["thresholds"]
    return {
        "score": 100 * float(v["score"]),
        "real": 100 * float(th["likely_real"]),
        "fake": 100 * float(th["likely_fake"]),
    }


def reference_card(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The claimed-person check in words: a headline, and one line each for the face and the movements."""
    ref = data.get("reference")
    if not ref:
        return None
    name, c = ref["claimed"], ref["conclusion"]
    ident, mann = ref["identity"], ref["mannerisms"]
    if ident["score"] is None:
        face = "not compared (no face could be recognised)"
    elif ident["score"] >= 0.5:
        face = f"the same face as in {name}'s enrolled footage"
    else:
        face = f"a different face from {name}'s enrolled footage"
    if not mann["checked"]:
        still = data["input"]["kind"] == "image"
        moves = ("not compared: a still image has no movement" if still else
                 "not compared: the face needs at least 4 s in view at a stretch")
    elif c == "consistent":
        moves = f"moves like {name}"
    elif c == "impersonator":
        moves = f"does not move like {name}: the way its expressions and head movements go together is someone else's"
    elif c == "mannerisms_unclear":
        moves = f"unclear whether it moves like {name}"
    elif (mann["score"] or 0) >= 0.8:  # as conclusion.py: only then worth a word
        moves = f"its movements resemble {name}'s, as {name}'s own footage with another face swapped in would"
    else:
        moves = "compared, but with someone else's face this says little"
    v = ref.get("voice")  # absent before schema 1.4
    if not v:
        voice = None
    elif not v["checked"]:
        voice = f"not compared: {v['skipped_because']}"
    else:
        lo, hi = v["own_range"]
        same = (v["score"] or 0) >= 0.5
        voice = (
            f"{'the same voice as' if same else 'a different voice from'} {name}'s enrolled speech: voice score "
            f"{v['score']:.2f}, similarity {v['similarity']:.2f} ({name}'s enrolled speech {lo:.2f}–{hi:.2f} against "
            f"itself; other "
            f"speakers mostly below {v['others_below']:.2f}) over {v['speech_s']:.1f} s of speech"
        )
    return {"headline": CONCLUSION_HEADLINE.get(c, c).format(name=name), "tone": CONCLUSION_TONE.get(c, "none"),
            "face": face, "moves": moves, "voice": voice}


def rule_lines(v: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each combination rule that fired: its name and what it did to the label."""
    out = []
    for r in v.get("rules", []):
        name = RULE_WORDS.get(r["rule"], r["rule"].replace("_", " ") + " rule")
        if r["to_label"] != r["from_label"]:
            verb = "raised" if r["rule"] != "damaged_input" else "changed"
            did = (f"{verb} the verdict from “{LABEL_WORDS[r['from_label']].lower()}” to "
                   f"“{LABEL_WORDS[r['to_label']].lower()}”")
        else:
            did = f"fired, but the verdict was already “{LABEL_WORDS[r['from_label']].lower()}”: it changed nothing"
        out.append({"name": name, "did": did, "detail": r["detail"], "rule": r["rule"]})
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
    d = report.data
    atts = report.attachments
    thumbs = {a.track_id: a for a in atts if a.kind == "thumbnail"}
    heatmaps: dict[str, list[Attachment]] = {}
    for a in atts:
        if a.kind == "heatmap" and a.analyzer:
            heatmaps.setdefault(a.analyzer, []).append(a)
    flat_settings = _flatten(settings) if settings else []
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            d=d,
            v=d["verdict"],
            inp=d["input"],
            words=LABEL_WORDS[d["verdict"]["label"]],
            tone=LABEL_TONE.get(d["verdict"]["label"], "none"),
            meaning=label_meaning(d),
            nd=printed_digits(d["verdict"]),
            gauge=gauge(d),
            tl=timeline(d),
            thumbs=thumbs,
            people=people(d, thumbs),
            vperson=verdict_person(d),
            pmap={f["id"]: f.get("person_id", f["id"]) for f in d["faces"]},
            moments=[a for a in atts if a.kind == "moment"],
            heatmaps=heatmaps,
            uri=data_uri,
            facts=list(facts),
            settings=flat_settings,
            report_json=_embedded_json(d),
            level=SUSPICIOUS_LEVEL,
            title=_title(d),
            prov=d.get("provenance"),
            ref=d.get("reference"),
            refcard=reference_card(d),
            rules=rule_lines(d["verdict"]),
            fusion_words=LABEL_WORDS.get(d["verdict"].get("fusion_label") or d["verdict"]["label"], ""),
            damaged=label_meaning(d) == DAMAGED_MEANING,
            damaged_rule=any(r["rule"] == "damaged_input" for r in d["verdict"].get("rules", [])),
        )
    )


def label_meaning(d: Mapping[str, Any]) -> str:
    """The banner's line on what the label means, true for this report (never "none fired" above findings)."""
    label = d["verdict"]["label"]
    if any(r["rule"] == "damaged_input" and r["to_label"] != r["from_label"] for r in d["verdict"].get("rules", [])):
        return DAMAGED_MEANING
    if label == Label.LIKELY_REAL and d["evidence"]:
        return LIKELY_REAL_WITH_FINDINGS
    return LABEL_MEANING.get(label, "")


def _title(d: Mapping[str, Any]) -> str:
    name = str(d["input"]["path"]).replace("\\", "/").rsplit("/", 1)[-1]
    return f"unmask report: {name} — {LABEL_WORDS[d['verdict']['label']]}"


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
