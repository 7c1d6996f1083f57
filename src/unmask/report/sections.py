"""The report's data sections (findings, timeline, persons, claimed-person check, coverage) as plain values.

Floats are rounded and lists sorted here, so the same input gives the same report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from unmask.analyzers.results import ClaimResult
from unmask.fusion import pooled_score
from unmask.types import AnalyzerResult, Evidence, MediaContext

TIMELINE_BIN_S = 1.0


def rounded(x: float | None, nd: int = 4) -> float | None:
    """``x`` rounded to ``nd`` decimals; None for a missing or non-finite value (JSON has no NaN)."""
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), nd)


def evidence_entry(e: Evidence, analyzer: str, person_ids: Mapping[int, int]) -> dict[str, Any]:
    """One finding as the report lists it."""
    return {
        "analyzer": analyzer,
        "cue": e.cue,
        "detail": e.detail,  # in the analyzer's words (track ids) until the report renames it
        "strength": rounded(e.strength),
        "t_start": rounded(e.t_start, 3),
        "t_end": rounded(e.t_end, 3),
        "track_id": e.track_id,
        "frame_start": e.frame_start,
        "frame_end": e.frame_end,
        "person_id": None if e.track_id is None else person_ids.get(e.track_id, e.track_id),
    }


def timeline(
    ctx: MediaContext, results: Sequence[AnalyzerResult], track_id: int | None
) -> list[dict[str, float | None]]:
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
    return [{"t": rounded(k * TIMELINE_BIN_S, 3), "score": rounded(sum(v) / len(v))} for k, v in sorted(bins.items())]


def persons(ctx: MediaContext, faces: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each person (linked tracks) with all its stretches; ``faces`` are the per-track entries."""
    by_track = {f["id"]: f for f in faces}
    groups: dict[int, list[int]] = {}
    for tid, pid in sorted(ctx.person_ids().items()):
        groups.setdefault(pid, []).append(tid)
    out = []
    for pid, tids in sorted(groups.items()):
        fs = sorted((by_track[t] for t in tids if t in by_track), key=lambda f: (f["t_start"] or 0.0, f["id"]))
        scored = [f for f in fs if f["score"] is not None]
        out.append({
            "id": pid,
            "track_ids": sorted(tids),
            "spans": [{"track_id": f["id"], "t_start": f["t_start"], "t_end": f["t_end"],
                       "n_observations": f["n_observations"]} for f in fs],
            "n_observations": sum(f["n_observations"] for f in fs),
            "seen_s": rounded(sum((f["t_end"] or 0.0) - (f["t_start"] or 0.0) for f in fs), 3),
            "assessable": any(f["assessable"] for f in fs),
            # the stretches pooled, as the fusion pools a person (one face filmed often is measured, not maximised)
            "score": rounded(pooled_score([f["score"] for f in scored], [max(1, f["n_observations"]) for f in scored]),
                             4) if scored else None,
        })
    return out


def reference_section(results: Sequence[AnalyzerResult]) -> dict[str, Any] | None:
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
        "identity": {"score": rounded(f.get("identity_p")), "distance": rounded(f.get("identity_distance")),
                     "embeddings": int(f.get("identity_embeddings", 0))},
        "mannerisms": {"checked": bool(checked), "score": rounded(f.get("mannerism_p")) if checked else None,
                       "llr": rounded(f.get("mannerism_llr")) if checked else None,
                       "windows": int(f.get("mannerism_windows", 0))},
        "voice": voice_section(f, c.track_id),
    }


def voice_section(f: Mapping[str, Any], track_id: int | None) -> dict[str, Any]:
    """The voice part of the claimed-person check (``checked`` false with ``skipped_because`` when not compared)."""
    from unmask.reference.voice import VoiceCheck

    vc = VoiceCheck.from_features(f)
    if vc is None:
        return {"checked": False, "skipped_because": "no face was compared, so neither was the voice", "score": None,
                "similarity": None, "own_range": None, "others_below": None, "segments": 0, "speech_s": 0.0,
                "speakers": 0}
    ok = vc.checked
    return {"checked": ok, "skipped_because": None if ok else vc.reason(track_id),
            "score": rounded(vc.p_same) if ok else None, "similarity": rounded(vc.similarity) if ok else None,
            "own_range": [rounded(vc.own_range[0]), rounded(vc.own_range[1])] if ok else None,
            "others_below": rounded(vc.others_below) if ok else None, "segments": int(vc.segments),
            "speech_s": round(float(vc.speech_s), 2), "speakers": int(vc.speakers)}


def coverage(ctx: MediaContext) -> dict[str, Any]:
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
    return {
        "planned_s": rounded(planned, 3),
        "decoded_s": rounded(decoded, 3),
        "damaged": damaged,
        "examined_s": rounded(examined, 3),
        "coverage": rounded(min(1.0, examined / duration)) if duration > 0 else None,
    }
