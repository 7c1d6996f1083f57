"""Build the versioned JSON report (documented in docs/report-schema.md, validated by schema.json).

Same input and config give the same report apart from ``timings``: floats are
rounded, lists are sorted by stable keys, and nothing depends on the clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import resources
from typing import TYPE_CHECKING, Any

from unmask.fusion import FusionModel, Verdict
from unmask.report.model import Report
from unmask.report.names import face_renamer, recorded_name
from unmask.report.sections import coverage, evidence_entry, persons, reference_section, rounded, timeline
from unmask.report.words import LABEL_WORDS, RULE_WORDS, drivers, printed_digits, reasons_per_person, summary
from unmask.types import AnalyzerResult, MediaContext
from unmask.version import __version__

if TYPE_CHECKING:
    from unmask.provenance import Provenance
    from unmask.rules import RuleHit

# names read from here before the wording and the sections had modules of their own
__all__ = ["LABEL_WORDS", "RULE_WORDS", "SCHEMA_VERSION", "Report", "analysis_weights", "build_report", "load_schema",
           "printed_digits"]

SCHEMA_VERSION = "1.5"
TOP_EVIDENCE = 5  # strongest findings listed at the top of the report


def load_schema() -> dict[str, Any]:
    """The report's JSON Schema (draft 2020-12)."""
    schema: dict[str, Any] = json.loads(resources.files("unmask.report").joinpath("schema.json").read_text())
    return schema


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
    rules: Sequence[RuleHit] = (),
    record_path: bool = False,
    provenance: Provenance | None = None,
    config_digest: str = "",
) -> Report:
    """The report of one scan. ``record_path``: record the file's full path, not only its name.
    ``provenance``: what the file says about itself (``null`` in the report when not read).
    ``config_digest``: ``ScanConfig.digest()`` of the settings of the scan."""
    info = ctx.info
    verdict = replace(verdict, reasons=reasons_per_person(verdict.reasons, ctx))
    fused_model = fusion
    fusion = fusion.for_kind(info.kind) or fusion  # the still-image model explains a photo's score
    tv = {t.track_id: t for t in verdict.tracks}
    person_ids = ctx.person_ids()
    rename = face_renamer(person_ids)  # analyzers name tracks; the report names people
    faces: list[dict[str, Any]] = []
    for tr in ctx.tracks:
        v = tv.get(tr.id)
        faces.append(
            {
                "id": tr.id,
                "person_id": person_ids.get(tr.id, tr.id),
                "t_start": rounded(tr.start_t, 3),
                "t_end": rounded(tr.end_t, 3),
                "frame_start": tr.observations[0].frame_index,
                "frame_end": tr.observations[-1].frame_index,
                "n_observations": len(tr),
                "median_size_px": rounded(tr.median_size, 1),
                "assessable": bool(v and v.assessable),
                "gate_reason": v.gate_reason if v else None,
                "score": rounded(v.score) if v else None,
                "analyzer_scores": {
                    r.name: rounded(ts.score) for r in results if r.status == "ok" and (ts := r.for_track(tr.id))
                },
                "contributions": {k: rounded(c) for k, c in sorted((v.contributions if v else {}).items())},
            }
        )
    analyzer_docs: list[dict[str, Any]] = []
    all_evidence: list[tuple[float, dict[str, Any]]] = []
    for r in results:
        ev = [evidence_entry(e, r.name, person_ids) for e in r.evidence]
        weight = 1.0 if verdict.contributions.get(r.name, 0.0) >= 0 else 0.5
        all_evidence += [(e["strength"] * weight, e) for e in ev]
        analyzer_docs.append(
            {
                "name": r.name,
                "version": r.version,
                "checks": r.checks,
                "status": r.status,
                "score": rounded(r.score),
                "reason": r.reason,
                "explanation": rename(r.explanation),
                "evidence": ev,
                "tracks": [
                    {
                        "track_id": t.track_id,
                        "score": rounded(t.score),
                        "features": {k: rounded(v, 6) for k, v in sorted(t.features.items())},
                    }
                    for t in r.tracks
                ],
                "video_features": {k: rounded(v, 6) for k, v in sorted(r.video_features.items())},
            }
        )
    all_evidence.sort(key=lambda x: (-x[0], x[1]["t_start"] or 0.0, x[1]["analyzer"]))
    ranked = [e for _, e in all_evidence]
    top = ranked[:TOP_EVIDENCE]
    fused = fusion.read_analyzers or None  # the analyzers the score reads (a weight held at zero reads nothing)
    driver_docs = drivers(verdict, fusion, results)
    segments = sorted({s.segment for s in ctx.sampled})
    reference = reference_section(results)
    summary_text = rename(summary(verdict, ctx, ranked, driver_docs, rules, reference, fused, provenance))
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
            "duration_s": rounded(info.duration_s, 3),
            "fps": rounded(info.fps, 3),
            "width": info.width,
            "height": info.height,
            "rotation": info.rotation,
            "has_audio": info.has_audio,
            "audio_codec": info.audio_codec,
        },
        "verdict": {
            "label": verdict.label,
            "score": rounded(verdict.score),
            "thresholds": {"likely_real": verdict.likely_real, "likely_fake": verdict.likely_fake},
            "track_id": verdict.track_id,
            "person_id": None if verdict.track_id is None else person_ids.get(verdict.track_id, verdict.track_id),
            "summary": summary_text,
            "drivers": driver_docs,
            "reasons": list(dict.fromkeys(rename(x) for x in verdict.reasons)),
            "contributions": {k: rounded(c) for k, c in sorted(verdict.contributions.items())},
            "fusion_label": fusion_label,
            "rules": [{"rule": r.rule, "analyzer": r.analyzer, "track_id": r.track_id, "from_label": r.from_label,
                       "to_label": r.to_label, "detail": rename(r.detail)} for r in rules],
        },
        "reference": reference,
        "provenance": None if provenance is None else provenance.to_dict(),
        "evidence": top,
        "faces": faces,
        "persons": persons(ctx, faces),
        "analyzers": analyzer_docs,
        "timeline": timeline(ctx, results, verdict.track_id),
        "sampling": {
            "frames_decoded": len(ctx.frame_stats),
            "frames_analyzed": len(ctx.sampled),
            "segments": len(segments),
            "warnings": list(warnings),
            **coverage(ctx),
        },
        "model": {"fusion_version": fused_model.version, "fusion_sha256": fused_model.sha256,
                  "weights": analysis_weights(results)},
        "config_digest": config_digest,
        "timings": {k.replace("analyzer.", "analyzer_") + "_s": rounded(v, 4) for k, v in timings.items()},
    }
    return Report.from_dict(data)
