"""One person is one face: linking face tracks across gaps, bursts and cuts.

The tracker (:mod:`unmask.faces.track`) only follows a face from frame to frame, so a
person who looks away, leaves the picture, or is seen in many bursts of a long video
becomes many tracks. Tracks stay the unit of analysis (jitter, flicker and the fusion
are measured on continuous stretches); this step only says which tracks show the same
person, so the report can name one face per person with all its time spans.

Tracks with a dlib embedding are grouped by average linkage on their mean embeddings:
the closest pair of groups is merged while its mean distance is below
``faces.link_max_distance`` (dlib's usual 0.6 for "same person"). A track without one
(a face too small to embed) joins the group of the track nearest to it in time when
their boxes are at the same place and size and their cheap looks agree; otherwise it
is a person of its own. Two tracks seen at the same moment are two people, so groups
whose tracks overlap in time are never merged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from unmask.config import FaceConfig
from unmask.faces.track import CENTRE_FRAC, SIZE_RATIO, Look, appearance, looks_alike
from unmask.types import Box, FaceObs, FaceTrack, Person

#: an embedder's ``embed``: the 128-D vector of a face, or None when it is too small to tell
EmbedFn = Callable[[FaceObs], "npt.NDArray[np.float32] | None"]


def embedding_plan(tracks: Sequence[FaceTrack], config: FaceConfig, identity_frames: int,
                   shared_tracks: int) -> dict[int, int]:
    """How many embeddings to take from each track for linking (0: link by geometry).

    With at most ``shared_tracks`` tracks, take ``identity_frames`` each (the temporal analyzer
    embeds those same observations, so its shared embedder pays nothing more); otherwise up to
    ``link_embeddings`` each, fewer (down to one) so that every track gets one within
    ``link_max_embeddings``; past that, the longest tracks first.
    """
    if len(tracks) <= 1:
        return {t.id: 0 for t in tracks}  # nothing to link
    per = min(config.link_embeddings, max(1, config.link_max_embeddings // len(tracks)))
    if len(tracks) <= shared_tracks:
        per = max(per, identity_frames)
    left = config.link_max_embeddings
    plan = {t.id: 0 for t in tracks}
    for t in sorted(tracks, key=lambda t: (-len(t), t.id)):
        n = min(per, len(t), left)
        plan[t.id] = n
        left -= n
    return plan


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _near(a: Box, b: Box) -> bool:
    """Same place and size: centres within CENTRE_FRAC face sizes, sizes within SIZE_RATIO (as the tracker)."""
    ca = np.array([(a[0] + a[2]) / 2, (a[1] + a[3]) / 2])
    cb = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
    sa = float(np.sqrt((a[2] - a[0]) * (a[3] - a[1])))
    sb = float(np.sqrt((b[2] - b[0]) * (b[3] - b[1])))
    if min(sa, sb) <= 0:
        return False
    dist = float(np.linalg.norm(ca - cb)) / float(np.sqrt(sa * sb))
    return dist < CENTRE_FRAC and max(sa, sb) / min(sa, sb) < SIZE_RATIO


def _look(o: FaceObs) -> Look | None:
    """The cheap appearance of an observation's face, read from its crop."""
    s = o.crop_scale
    x0, y0 = o.crop_box[0], o.crop_box[1]
    box = ((o.box[0] - x0) * s, (o.box[1] - y0) * s, (o.box[2] - x0) * s, (o.box[3] - y0) * s)
    return appearance(o.crop, box)


def link_tracks(tracks: Sequence[FaceTrack], embeddings: Mapping[int, npt.NDArray[np.floating[Any]]],
                max_distance: float = 0.6) -> tuple[Person, ...]:
    """Group ``tracks`` into persons. ``embeddings``: track id -> mean 128-D embedding (where one exists).

    Persons are numbered from 1 in order of their first track's id (first appearance), so a
    video whose tracks link to nothing has person ``k`` = track ``k``.
    """
    by_id = {t.id: t for t in tracks}
    ids = sorted(by_id)
    spans = {i: (by_id[i].start_t, by_id[i].end_t) for i in ids}
    groups: list[list[int]] = [[i] for i in ids if i in embeddings]
    if len(groups) > 1:
        emb = np.stack([np.asarray(embeddings[g[0]], dtype=np.float64) for g in groups])
        d = np.linalg.norm(emb[:, None, :] - emb[None, :, :], axis=2)  # track-to-track distances
        n = len(groups)
        for a in range(n):
            for b in range(a + 1, n):
                if _overlap(spans[groups[a][0]], spans[groups[b][0]]):
                    d[a, b] = d[b, a] = np.inf  # seen together: two people
        np.fill_diagonal(d, np.inf)
        members = [[k] for k in range(n)]
        alive = list(range(n))
        link = d.copy()  # average linkage between live groups
        while len(alive) > 1:
            sub = link[np.ix_(alive, alive)]
            flat = int(np.argmin(sub))
            ia, ib = divmod(flat, len(alive))
            if not sub[ia, ib] < max_distance:
                break
            a, b = alive[ia], alive[ib]
            members[a] += members[b]
            alive.remove(b)
            for c in alive:
                if c == a:
                    continue
                pair = d[np.ix_(members[a], members[c])]
                link[a, c] = link[c, a] = np.inf if np.isinf(pair).any() else float(pair.mean())
        groups = [[groups[k][0] for k in members[a]] for a in alive]
    # tracks without an embedding: join the group of the nearest track in time at the same place
    for i in ids:
        if i in embeddings:
            continue
        t = by_id[i]
        best: tuple[float, int] | None = None
        for gi, g in enumerate(groups):
            if any(_overlap(spans[i], spans[j]) for j in g):
                continue
            for j in g:
                u = by_id[j]
                if u.end_t < t.start_t:
                    gap, mine, theirs = t.start_t - u.end_t, t.observations[0], u.observations[-1]
                else:
                    gap, mine, theirs = u.start_t - t.end_t, t.observations[-1], u.observations[0]
                if (best is None or gap < best[0]) and _near(mine.box, theirs.box) \
                        and looks_alike(_look(mine), _look(theirs)):
                    best = (gap, gi)
        if best is None:
            groups.append([i])
        else:
            groups[best[1]].append(i)
    ordered = sorted((sorted(g) for g in groups), key=lambda g: g[0])
    return tuple(Person(k + 1, tuple(g)) for k, g in enumerate(ordered))


def mean_embeddings(tracks: Sequence[FaceTrack], plan: Mapping[int, int],
                    embed: EmbedFn) -> dict[int, npt.NDArray[np.float32]]:
    """Mean embedding of each track's ``plan[id]`` evenly spaced observations (tracks that gave none are left out)."""
    from unmask.faces.embed import evenly_spaced

    out: dict[int, npt.NDArray[np.float32]] = {}
    for t in tracks:
        vecs = [v for o in evenly_spaced(t.observations, plan.get(t.id, 0)) if (v := embed(o)) is not None]
        if vecs:
            out[t.id] = np.mean(np.stack(vecs), axis=0)
    return out


__all__ = ["embedding_plan", "link_tracks", "mean_embeddings"]
