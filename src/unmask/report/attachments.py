"""Pictures for readers: face thumbnails, the most suspicious moments, analyzers' heatmap overlays.

The JSON report carries no pixels (it stays small and diffable); these small JPEGs
ride along on :class:`~unmask.report.build.Report` as ``attachments``, made while the
face crops still exist, and the HTML report draws them. A face crop is all that
survives the face stage, so a "moment" is the face at that time, not the whole frame.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from unmask.fusion import Verdict
from unmask.report.names import face_renamer
from unmask.types import AnalyzerResult, FaceObs, FaceTrack, Heatmap, MediaContext

AttachmentKind = Literal["thumbnail", "moment", "heatmap"]

THUMB_PX = 112
MOMENT_PX = 192
HEATMAP_PX = 192
MAX_THUMBNAILS = 32  # longest tracks first (~4 KB each)
MAX_MOMENTS = 4
MOMENT_MIN_GAP_S = 1.0  # moments this far apart at least, so they show different seconds
MAX_HEATMAPS_PER_ANALYZER = 4
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Attachment:
    """One picture for the report: JPEG bytes plus where it comes from, in words and numbers."""

    key: str  # unique within the report, e.g. "face-1", "moment-1-2", "heatmap-blend_cnn-1-0"
    kind: AttachmentKind
    data: bytes
    caption: str
    track_id: int | None = None
    t: float | None = None
    frame_index: int | None = None
    analyzer: str | None = None
    score: float | None = None
    media_type: str = "image/jpeg"

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError(f"Attachment {self.key}: empty data")


def jpeg(rgb: NDArray[Any], side: int | None = None) -> bytes:
    """RGB uint8 → JPEG bytes, resized so its longer side is ``side`` pixels."""
    img = Image.fromarray(np.ascontiguousarray(rgb))
    if side is not None and max(img.size) != side:
        s = side / max(img.size)
        img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return buf.getvalue()


def overlay(hm: Heatmap) -> NDArray[Any]:
    """The face beside the same face with its heat drawn on it (hot = where the cue is), RGB uint8."""
    heat8 = np.clip(hm.heat * 255.0, 0, 255).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(heat8, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB).astype(np.float32)
    alpha = (0.15 + 0.5 * hm.heat)[..., None]  # cold areas stay readable
    blended = hm.image.astype(np.float32) * (1 - alpha) + colour * alpha
    gap = np.full((hm.image.shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([hm.image, gap, np.clip(blended, 0, 255).astype(np.uint8)], axis=1)


def _best_obs(track: FaceTrack) -> FaceObs:
    """The observation to show a face by: the most confident detection with landmarks, the middle one on ties."""
    pool = track.with_landmarks or track.observations
    mid = pool[len(pool) // 2].t
    return max(pool, key=lambda o: (round(o.score, 2), -abs(o.t - mid)))


def _frame_suspicion(track_id: int, results: Sequence[AnalyzerResult]) -> dict[float, list[tuple[str, float]]]:
    """Per observation time (ms-rounded): each analyzer's per-frame 0..1 suspicion for this face."""
    out: dict[float, list[tuple[str, float]]] = {}
    for r in results:
        ts = r.for_track(track_id) if r.status == "ok" else None
        for t, s in ts.per_frame if ts else ():
            if math.isfinite(s):
                out.setdefault(round(t, 3), []).append((r.name, float(s)))
    return out


def _moments(track: FaceTrack, results: Sequence[AnalyzerResult], is_still: bool) -> list[Attachment]:
    per = _frame_suspicion(track.id, results)
    scored = []
    for o in track.observations:
        vals = per.get(round(o.t, 3))
        if vals:
            scored.append((sum(v for _, v in vals) / len(vals), o, vals))
    if not scored:
        return []
    scored.sort(key=lambda x: (-x[0], x[1].t))
    chosen: list[tuple[float, FaceObs, list[tuple[str, float]]]] = []
    for item in scored:
        if all(abs(item[1].t - c[1].t) >= MOMENT_MIN_GAP_S for c in chosen):
            chosen.append(item)
        if len(chosen) == (1 if is_still else MAX_MOMENTS):
            break
    out = []
    for rank, (s, o, vals) in enumerate(chosen, 1):
        parts = ", ".join(f"{n.replace('_', ' ')} {v:.2f}" for n, v in sorted(vals, key=lambda x: -x[1]))
        when = "" if is_still else f" at {o.t:.1f} s"
        out.append(Attachment(
            key=f"moment-{track.id}-{rank}", kind="moment", data=jpeg(o.crop, MOMENT_PX),
            caption=f"Face {track.id}{when}: mean per-frame suspicion {s:.2f} ({parts})",
            track_id=track.id, t=round(o.t, 3), frame_index=o.frame_index, score=round(s, 4)))
    return out


def collect_attachments(
    ctx: MediaContext, results: Sequence[AnalyzerResult], verdict: Verdict
) -> tuple[Attachment, ...]:
    """Thumbnails of the longest faces, the verdict face's most suspicious moments, every analyzer's heatmaps."""
    out: list[Attachment] = []
    person_ids = ctx.person_ids()
    rename = face_renamer(person_ids)  # captions name people, as the report does
    longest: dict[int, FaceTrack] = {}  # one thumbnail per person: its longest stretch
    for tr in sorted(ctx.tracks, key=lambda t: (-len(t), t.id)):
        longest.setdefault(person_ids.get(tr.id, tr.id), tr)
    for tr in sorted(longest.values(), key=lambda t: (-len(t), t.id))[:MAX_THUMBNAILS]:
        o = _best_obs(tr)
        when = "" if ctx.is_still else f" ({tr.start_t:.1f}–{tr.end_t:.1f} s)"
        out.append(
            Attachment(
                key=f"face-{tr.id}",
                kind="thumbnail",
                data=jpeg(o.crop, THUMB_PX),
                caption=rename(f"Face {tr.id}{when}"),
                track_id=tr.id,
                t=round(o.t, 3),
                frame_index=o.frame_index,
            )
        )
    focus = verdict.track_id
    if focus is None and ctx.tracks:
        focus = max(ctx.tracks, key=lambda t: (len(t), -t.id)).id
    track = next((t for t in ctx.tracks if t.id == focus), None)
    if track is not None:
        out += [replace(a, caption=rename(a.caption)) for a in _moments(track, results, ctx.is_still)]
    for r in results:
        maps = sorted(r.heatmaps, key=lambda h: (-h.score, h.t))[:MAX_HEATMAPS_PER_ANALYZER]
        for i, hm in enumerate(maps):
            when = "" if ctx.is_still else f" at {hm.t:.1f} s"
            caption = f"{r.name.replace('_', ' ').capitalize()}, face {hm.track_id}{when}: score {hm.score:.2f}"
            if hm.caption:
                caption += f". {hm.caption}"
            caption = rename(caption)
            pic = overlay(hm)
            side = None if pic.shape[0] <= HEATMAP_PX else round(pic.shape[1] * HEATMAP_PX / pic.shape[0])
            out.append(Attachment(key=f"heatmap-{r.name}-{hm.track_id}-{i}", kind="heatmap", data=jpeg(pic, side),
                                  caption=caption, track_id=hm.track_id, t=round(hm.t, 3), frame_index=hm.frame_index,
                                  analyzer=r.name, score=round(hm.score, 4)))
    return tuple(out)
