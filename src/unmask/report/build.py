"""Build the versioned JSON report (documented in docs/report-schema.md, validated by schema.json).

Same input and config give the same report apart from ``timings``: floats are
rounded, lists are sorted by stable keys, and nothing depends on the clock.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from unmask.fusion import FusionModel, Verdict, unvalidated_kind_reason
from unmask.report.model import Report
from unmask.report.names import face_renamer, recorded_name
from unmask.types import SCORED_LABELS, AnalyzerResult, ClaimResult, Evidence, FaceTrack, Label, MediaContext
from unmask.version import __version__

if TYPE_CHECKING:
    from unmask.provenance import Provenance
    from unmask.rules import RuleHit

SCHEMA_VERSION = "1.4"
TOP_EVIDENCE = 5  # strongest findings listed at the top of the report
TOP_DRIVERS = 3  # fusion inputs that moved the score most, named in the verdict
MIN_DRIVER_LOGIT = 0.15  # smaller pushes are not worth a sentence
TIMELINE_BIN_S = 1.0
SUMMARY_SPANS = 6  # a person's stretches listed in the summary (the rest are counted; all are in ``persons``)

#: combination rules (``unmask.rules``) as a reader would name them
RULE_WORDS = {"lip_sync_mismatch": "lip-sync rule", "foreign_mannerisms": "mannerism rule",
              "damaged_input": "damaged-file rule", "declared_synthetic": "declared-AI rule",
              "capture_credential": "capture-credential rule"}
_CONFIDENCE = {label: i for i, label in enumerate(SCORED_LABELS)}

#: each label as a reader sees it
LABEL_WORDS: dict[str, str] = {
    Label.LIKELY_REAL: "Likely real",
    Label.INCONCLUSIVE: "Inconclusive",
    Label.LIKELY_FAKE: "Likely manipulated",
    Label.NO_FACE: "No face found",
    Label.CANNOT_ASSESS: "Cannot assess",
    Label.DECLARED_SYNTHETIC: "Declared AI-generated",
}


def load_schema() -> dict[str, Any]:
    """The report's JSON Schema (draft 2020-12)."""
    return json.loads(resources.files("unmask.report").joinpath("schema.json").read_text())


def _r(x: float | None, nd: int = 4) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), nd)


def _evidence(e: Evidence, analyzer: str, person_ids: Mapping[int, int]) -> dict[str, Any]:
    return {
        "analyzer": analyzer,
        "cue": e.cue,
        "detail": e.detail,  # in the analyzer's words (track ids) until the report renames it
        "strength": _r(e.strength),
        "t_start": _r(e.t_start, 3),
        "t_end": _r(e.t_end, 3),
        "track_id": e.track_id,
        "frame_start": e.frame_start,
        "frame_end": e.frame_end,
        "person_id": None if e.track_id is None else person_ids.get(e.track_id, e.track_id),
    }


def _timeline(ctx: MediaContext, results: Sequence[AnalyzerResult], track_id: int | None) -> list[dict[str, float]]:
    """Per-second suspicion of the chosen face, every stretch its person was seen in: the mean of the
    analyzers' per-frame scores (uncalibrated)."""
    if track_id is None:
        return []
    bins: dict[int, list[float]] = {}
    for tid in [t.id for t in ctx.person_tracks(track_id)] or [track_id]:
        for r in results:
            ts = r.for_track(tid) if r.status == "ok" else None
            if ts is None:
                continue
            for t, s in ts.per_frame:
                if math.isfinite(s):
                    bins.setdefault(int(t // TIMELINE_BIN_S), []).append(s)
    return [{"t": _r(k * TIMELINE_BIN_S, 3), "score": _r(sum(v) / len(v))} for k, v in sorted(bins.items())]


def score_digits(score: float, label: str, likely_real: float, likely_fake: float) -> int:
    """Decimals to print a score and its thresholds with, so the printed numbers never contradict ``label``.

    ``label`` is the fusion's own label for ``score`` (before any rule): a score of 0.8678 under a
    threshold of 0.8718 must not read "0.87; likely manipulated at ≥ 0.87" above "Inconclusive".
    """
    def agrees(nd: int) -> bool:
        s, r, f = (float(f"{x:.{nd}f}") for x in (score, likely_real, likely_fake))
        if label == "likely_fake":
            return s >= f
        if label == "likely_real":
            return s < r
        if label == "inconclusive":
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


def _drivers(verdict: Verdict, fusion: FusionModel, results: Sequence[AnalyzerResult]) -> list[dict[str, Any]]:
    """The fusion inputs that moved the verdict's score most, in the verdict's direction, in plain words."""
    top = verdict.top_track
    if top is None or verdict.score is None:
        return []
    toward_fake = verdict.label != "likely_real"
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
            detail = f"{analyzer.replace('_', ' ').capitalize()}: {words}{', ' + how + ',' if how else ''} is {_fmt(value)} here"
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
        out.append({"analyzer": analyzer, "feature": feature, "value": _r(value, 6), "typical_real": _r(typical, 6),
                    "contribution": _r(c), "detail": detail})
    return out


def rule_change_words(rule: str, from_label: str, to_label: str) -> str:
    """What a rule did to the label: 'raised "likely real" to "inconclusive"' (a combination rule raising
    suspicion), 'changed ...' (the damaged-file rule withdrawing confidence), or 'left ... as it was'."""
    frm, to = LABEL_WORDS[from_label].lower(), LABEL_WORDS[to_label].lower()
    if from_label == to_label:
        return f"left \"{frm}\" as it was"
    verb = "raised" if rule != "damaged_input" and _CONFIDENCE.get(to_label, -1) > _CONFIDENCE.get(from_label, 9) else "changed"
    return f"{verb} \"{frm}\" to \"{to}\""


def _summary(verdict: Verdict, ctx: MediaContext, ranked: list[dict[str, Any]], drivers: list[dict[str, Any]],
             rules: Sequence["RuleHit"] = (), reference: Mapping[str, Any] | None = None,
             fused: frozenset[str] | None = None, provenance: "Provenance | None" = None) -> str:
    declared = next((r for r in rules if r.rule == "declared_synthetic"), None)
    if declared is not None:  # the file's own signed declaration leads; the cues follow, under their own label
        before = replace(verdict, label=declared.from_label)
        inner = _summary(before, ctx, ranked, drivers, [r for r in rules if r is not declared], reference, fused)
        return f"{LABEL_WORDS['declared_synthetic']}: {declared.detail} What the cues say on their own: {inner}"
    damage = next((r for r in rules if r.rule == "damaged_input"), None)
    if damage is None:
        s = _fusion_summary(verdict, ctx, ranked, drivers, rules, fused)
    elif verdict.label == "cannot_assess":
        s = f"{LABEL_WORDS['cannot_assess']}: {damage.detail}"
        others = [r for r in verdict.reasons if not r.startswith("the file is damaged")]
        if others:
            s += f" Besides, {'; '.join(others)}."
    else:  # the damage leads; what the cues say on the decoded part follows, under the label they gave
        before = replace(verdict, label=damage.from_label)
        inner = _fusion_summary(before, ctx, ranked, drivers, [r for r in rules if r is not damage], fused)
        s = f"{LABEL_WORDS[verdict.label]}: {damage.detail} On the part that could be decoded: {inner}"
    if reference is not None:
        s += f" Claimed to be {reference['claimed']}: {reference['statement']}"
    if provenance is not None and provenance.credential.present and not any(r.analyzer == "provenance" for r in rules):
        s += f" Provenance: {provenance.findings[0]}" if provenance.findings else ""
    return s


def _rule_name(rule: str) -> str:
    return RULE_WORDS.get(rule, rule.replace("_", " ") + " rule")


def _fusion_summary(verdict: Verdict, ctx: MediaContext, ranked: list[dict[str, Any]], drivers: list[dict[str, Any]],
                    rules: Sequence["RuleHit"] = (), fused: frozenset[str] | None = None) -> str:
    """The verdict in words, saying what moved it: the fusion's cues, or a combination rule that raised the label.

    ``ranked`` is every finding, strongest first; ``fused`` the analyzers the fusion model reads. The
    "strongest finding" is only ever one the fusion read: a lip-sync or reference finding did not
    move the score, so it is named as the rule it is (and whether it changed the label), never as
    what the verdict rests on.
    """
    words = LABEL_WORDS[verdict.label]
    raised = [r for r in rules if r.to_label != r.from_label]
    idle = [r for r in rules if r.to_label == r.from_label]
    idle_words = "".join(f" Also, the {_rule_name(r.rule)} fired: {r.detail} The label was already "
                         f"\"{LABEL_WORDS[r.from_label].lower()}\", so it changed nothing." for r in idle)
    if raised and verdict.score is not None:
        first = raised[0].from_label
        which = " and the ".join(_rule_name(r.rule) for r in raised)
        nd = score_digits(verdict.score, first, verdict.likely_real, verdict.likely_fake)
        return (f"{words}: {' '.join(r.detail for r in raised)} (The cues the fusion model reads give a score of "
                f"{verdict.score:.{nd}f}, \"{LABEL_WORDS[first].lower()}\" on their own; the {which} raised the label to "
                f"\"{words.lower()}\".){idle_words}")
    if verdict.label == "no_face":
        return f"{words}: no face was found in the {len(ctx.sampled)} analysed frames, so nothing was judged."
    if verdict.label == "cannot_assess":
        if verdict.reasons == (unvalidated_kind_reason(ctx.info.kind),):  # the real reason: no model, not the faces
            return f"{words}: {verdict.reasons[0]}."
        return f"{words}: the faces found cannot support a judgement ({'; '.join(verdict.reasons)})."
    assert verdict.score is not None and verdict.track_id is not None
    tr = next(t for t in ctx.tracks if t.id == verdict.track_id)
    where = _where(tr, ctx.person_tracks(tr.id)) if not ctx.is_still else f"face {tr.id}"
    fusion_label = rules[0].from_label if rules else verdict.label
    numbers = score_words(verdict.score, fusion_label, verdict.likely_real, verdict.likely_fake)
    s = f"{words} ({numbers}). The most suspicious face is {where}."
    read = [e for e in ranked if fused is None or e["analyzer"] in fused]
    if read and verdict.label != "likely_real":
        s += f" Strongest finding: {read[0]['detail']}"
    elif drivers:
        s += f" What weighed most: {drivers[0]['detail']}"
    return s + idle_words


def _where(tr: FaceTrack, own: Sequence[FaceTrack]) -> str:
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


def _reasons_per_person(reasons: Sequence[str], ctx: MediaContext) -> tuple[str, ...]:
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


def _persons(ctx: MediaContext, faces: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each person (linked tracks) with all its stretches; ``faces`` are the per-track entries."""
    by_track = {f["id"]: f for f in faces}
    groups: dict[int, list[int]] = {}
    for tid, pid in sorted(ctx.person_ids().items()):
        groups.setdefault(pid, []).append(tid)
    out = []
    for pid, tids in sorted(groups.items()):
        fs = sorted((by_track[t] for t in tids if t in by_track), key=lambda f: (f["t_start"] or 0.0, f["id"]))
        scores = [f["score"] for f in fs if f["score"] is not None]
        out.append({
            "id": pid,
            "track_ids": sorted(tids),
            "spans": [{"track_id": f["id"], "t_start": f["t_start"], "t_end": f["t_end"],
                       "n_observations": f["n_observations"]} for f in fs],
            "n_observations": sum(f["n_observations"] for f in fs),
            "seen_s": _r(sum((f["t_end"] or 0.0) - (f["t_start"] or 0.0) for f in fs), 3),
            "assessable": any(f["assessable"] for f in fs),
            "score": max(scores) if scores else None,
        })
    return out


def _reference(results: Sequence[AnalyzerResult]) -> dict[str, Any] | None:
    """The claimed-person check in plain words and numbers, or None for a scan without a claim."""
    res = next((r for r in results if isinstance(r, ClaimResult) and r.claim is not None), None)
    if res is None or res.claim is None:
        return None
    c = res.claim
    ts = res.for_track(c.track_id) if c.track_id is not None and res.status == "ok" else None
    f = ts.features if ts is not None else {}
    checked = f.get("mannerism_windows", 0.0) > 0
    return {
        "claimed": c.claimed,
        "profile_version": c.profile_version,
        "profile_created_at": c.profile_created_at,
        "profile_sha256": c.profile_sha256,
        "calibration_sha256": c.calibration_sha256,
        "conclusion": c.conclusion,
        "statement": c.statement,
        "track_id": c.track_id,
        "identity": {"score": _r(f.get("identity_p")), "distance": _r(f.get("identity_distance")),
                     "embeddings": int(f.get("identity_embeddings", 0))},
        "mannerisms": {"checked": bool(checked), "score": _r(f.get("mannerism_p")) if checked else None,
                       "llr": _r(f.get("mannerism_llr")) if checked else None,
                       "windows": int(f.get("mannerism_windows", 0))},
        "voice": _voice(f, c.track_id),
    }


def _voice(f: Mapping[str, Any], track_id: int | None) -> dict[str, Any]:
    """The voice part of the claimed-person check (``checked`` false with ``skipped_because`` when not compared)."""
    from unmask.reference.voice import VoiceCheck

    vc = VoiceCheck.from_features(f)
    if vc is None:
        return {"checked": False, "skipped_because": "no face was compared, so neither was the voice", "score": None,
                "similarity": None, "own_range": None, "others_below": None, "segments": 0, "speech_s": 0.0,
                "speakers": 0}
    ok = vc.checked
    return {"checked": ok, "skipped_because": None if ok else vc.reason(track_id),
            "score": _r(vc.p_same) if ok else None, "similarity": _r(vc.similarity) if ok else None,
            "own_range": [_r(vc.own_range[0]), _r(vc.own_range[1])] if ok else None,
            "others_below": _r(vc.others_below) if ok else None, "segments": int(vc.segments),
            "speech_s": round(float(vc.speech_s), 2), "speakers": int(vc.speakers)}


def _coverage(ctx: MediaContext) -> dict[str, Any]:
    """How much of the video could be decoded (``sampling.decoded_s`` of ``planned_s``; ``damaged``), and which
    share of its whole length was examined (``examined_s``: seconds covered by decoded pictures; ``coverage``)."""
    c = ctx.decoding
    duration = ctx.info.duration_s
    if c is None:
        planned = decoded = duration
        damaged = False
    else:
        planned, decoded, damaged = c.planned_s, c.decoded_s, c.damaged
    examined = min(decoded, duration) if duration > 0 else 0.0
    return {"planned_s": _r(planned, 3), "decoded_s": _r(decoded, 3), "damaged": damaged,
            "examined_s": _r(examined, 3), "coverage": _r(min(1.0, examined / duration)) if duration > 0 else None}


def analysis_weights(results: Sequence[AnalyzerResult]) -> dict[str, str]:
    """Each analyzer that read trained weights -> their sha256: which exact models made this report."""
    return {r.name: r.weights_sha256 for r in results if r.weights_sha256}


def build_report(
    ctx: MediaContext,
    results: Sequence[AnalyzerResult],
    verdict: Verdict,
    fusion: FusionModel,
    timings: Mapping[str, float],
    warnings: Sequence[str],
    rules: Sequence["RuleHit"] = (),
    record_path: bool = False,
    provenance: "Provenance | None" = None,
) -> Report:
    """The report of one scan. ``record_path``: record the file's full path, not only its name.
    ``provenance``: what the file says about itself (``null`` in the report when not read)."""
    info = ctx.info
    verdict = replace(verdict, reasons=_reasons_per_person(verdict.reasons, ctx))
    fused_model = fusion
    fusion = fusion.for_kind(info.kind) or fusion  # the still-image model explains a photo's score
    tv = {t.track_id: t for t in verdict.tracks}
    person_ids = ctx.person_ids()
    rename = face_renamer(person_ids)  # analyzers name tracks; the report names people
    faces = []
    for tr in ctx.tracks:
        v = tv.get(tr.id)
        faces.append({
            "id": tr.id,
            "person_id": person_ids.get(tr.id, tr.id),
            "t_start": _r(tr.start_t, 3),
            "t_end": _r(tr.end_t, 3),
            "frame_start": tr.observations[0].frame_index,
            "frame_end": tr.observations[-1].frame_index,
            "n_observations": len(tr),
            "median_size_px": _r(tr.median_size, 1),
            "assessable": bool(v and v.assessable),
            "gate_reason": v.gate_reason if v else None,
            "score": _r(v.score) if v else None,
            "analyzer_scores": {r.name: _r(ts.score) for r in results if r.status == "ok" and (ts := r.for_track(tr.id))},
            "contributions": {k: _r(c) for k, c in sorted((v.contributions if v else {}).items())},
        })
    analyzer_docs = []
    all_evidence: list[tuple[float, dict[str, Any]]] = []
    for r in results:
        ev = [_evidence(e, r.name, person_ids) for e in r.evidence]
        weight = 1.0 if verdict.contributions.get(r.name, 0.0) >= 0 else 0.5
        all_evidence += [(e["strength"] * weight, e) for e in ev]
        analyzer_docs.append({
            "name": r.name,
            "version": r.version,
            "checks": r.checks,
            "status": r.status,
            "score": _r(r.score),
            "reason": r.reason,
            "explanation": rename(r.explanation),
            "evidence": ev,
            "tracks": [
                {"track_id": t.track_id, "score": _r(t.score), "features": {k: _r(v, 6) for k, v in sorted(t.features.items())}}
                for t in r.tracks
            ],
            "video_features": {k: _r(v, 6) for k, v in sorted(r.video_features.items())},
        })
    all_evidence.sort(key=lambda x: (-x[0], x[1]["t_start"] or 0.0, x[1]["analyzer"]))
    ranked = [e for _, e in all_evidence]
    top = ranked[:TOP_EVIDENCE]
    fused = fusion.read_analyzers or None  # the analyzers the score reads (a weight held at zero reads nothing)
    drivers = _drivers(verdict, fusion, results)
    segments = sorted({s.segment for s in ctx.sampled})
    reference = _reference(results)
    summary = rename(_summary(verdict, ctx, ranked, drivers, rules, reference, fused, provenance))
    for doc in analyzer_docs:  # each finding once (``top`` holds the same objects)
        for e in doc["evidence"]:
            e["detail"] = rename(e["detail"])
    if reference is not None:
        reference["statement"] = rename(reference["statement"])
    fusion_label = rules[0].from_label if rules else verdict.label
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "unmask_version": __version__,
        "input": {
            "path": recorded_name(info.path, record_path),
            "sha256": info.sha256,
            "size_bytes": info.size_bytes,
            "container": info.container,
            "kind": info.kind,
            "video_codec": info.video_codec,
            "duration_s": _r(info.duration_s, 3),
            "fps": _r(info.fps, 3),
            "width": info.width,
            "height": info.height,
            "rotation": info.rotation,
            "has_audio": info.has_audio,
            "audio_codec": info.audio_codec,
        },
        "verdict": {
            "label": verdict.label,
            "score": _r(verdict.score),
            "thresholds": {"likely_real": verdict.likely_real, "likely_fake": verdict.likely_fake},
            "track_id": verdict.track_id,
            "person_id": None if verdict.track_id is None else person_ids.get(verdict.track_id, verdict.track_id),
            "summary": summary,
            "drivers": drivers,
            "reasons": list(dict.fromkeys(rename(x) for x in verdict.reasons)),
            "contributions": {k: _r(c) for k, c in sorted(verdict.contributions.items())},
            "fusion_label": fusion_label,
            "rules": [{"rule": r.rule, "analyzer": r.analyzer, "track_id": r.track_id, "from_label": r.from_label,
                       "to_label": r.to_label, "detail": rename(r.detail)} for r in rules],
        },
        "reference": reference,
        "provenance": None if provenance is None else provenance.to_dict(),
        "evidence": top,
        "faces": faces,
        "persons": _persons(ctx, faces),
        "analyzers": analyzer_docs,
        "timeline": _timeline(ctx, results, verdict.track_id),
        "sampling": {
            "frames_decoded": len(ctx.frame_stats),
            "frames_analyzed": len(ctx.sampled),
            "segments": len(segments),
            "warnings": list(warnings),
            **_coverage(ctx),
        },
        "model": {"fusion_version": fused_model.version, "fusion_sha256": fused_model.sha256,
                  "weights": analysis_weights(results)},
        "config_digest": ctx.config.digest(),
        "timings": {k.replace("analyzer.", "analyzer_") + "_s": _r(v, 4) for k, v in timings.items()},
    }
    return Report.from_dict(data)
