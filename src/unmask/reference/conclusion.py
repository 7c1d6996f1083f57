"""What an identity + mannerism check means, in words: the reference verdict.

The two checks answer different questions, and their combination is what a
reader needs (Agarwal & Farid; ID-Reveal):

=================  ======================  =====================================================================
face               movements               conclusion
=================  ======================  =====================================================================
the person's       the person's            ``consistent``: consistent with the person (no proof: a re-animation
                                           of the person's own footage can keep both)
the person's       someone else's          ``impersonator``: likely the person's face on someone else (a face
                                           swap onto an impersonator, as @deeptomcruise was), or a puppet
the person's       unclear                 ``mannerisms_unclear``
the person's       not measurable          ``mannerisms_not_checked`` (too short: needs one 4 s stretch)
someone else's     (any)                   ``not_this_person``: not the person, which by itself is not a fake
no usable face     -                       ``cannot_assess``
=================  ======================  =====================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping

from unmask.reference.mannerisms import WINDOW_S

Conclusion = Literal["consistent", "impersonator", "mannerisms_unclear", "mannerisms_not_checked", "not_this_person",
                     "cannot_assess"]
CONCLUSIONS: tuple[Conclusion, ...] = ("consistent", "impersonator", "mannerisms_unclear", "mannerisms_not_checked",
                                       "not_this_person", "cannot_assess")
#: mannerism probability at or above which the clip "moves like" the person
MOVES_LIKE = 0.5


@dataclass(frozen=True)
class ReferenceConclusion:
    conclusion: Conclusion
    statement: str  # plain words a journalist can quote
    track_id: int | None


def conclude(name: str, feats: Mapping[str, float] | None, track_id: int | None, same_face: float,
             foreign: float, reason: str = "") -> ReferenceConclusion:
    """The conclusion for the claimed face's features (``identity_p``, ``mannerism_p`` (NaN when not measured), ...)."""
    if feats is None or track_id is None:
        why = f" ({reason})" if reason else ""
        return ReferenceConclusion("cannot_assess", f"Whether this is {name} cannot be checked{why}.", None)
    pid = feats["identity_p"]
    dist = feats["identity_distance"]
    pm = feats.get("mannerism_p", math.nan)
    face = f"face {track_id}"
    if pid < same_face:
        s = (f"The face does not match {name}'s enrolled footage (best match {face}: identity score {pid:.2f}, "
             f"face distance {dist:.2f}). This is not {name} — which by itself does not make the video fake: it may "
             "simply show someone else.")
        if math.isfinite(pm) and pm >= 0.8:
            s += (f" Its movements do resemble {name}'s (mannerism score {pm:.2f}), which is what {name}'s own footage "
                  "with someone else's face swapped in would look like.")
        return ReferenceConclusion("not_this_person", s, track_id)
    same = f"The face matches {name} ({face}: identity score {pid:.2f}, face distance {dist:.2f})"
    if not math.isfinite(pm):
        why = ("a still image has no movement to compare" if feats.get("still_image", 0.0) >= 1.0 else
               f"the face needs at least {WINDOW_S:.0f} s in view at a stretch")
        return ReferenceConclusion("mannerisms_not_checked", f"{same}; how it moves could not be compared ({why}).",
                                   track_id)
    if pm < foreign:
        return ReferenceConclusion("impersonator",
                                   f"{same}, but it does not move like {name} (mannerism score {pm:.2f}): the way "
                                   "expressions and head movements go together is someone else's. That is the "
                                   f"signature of {name}'s face swapped onto another person (an impersonator) or "
                                   "of a puppet driven by someone else.", track_id)
    if pm < MOVES_LIKE:
        return ReferenceConclusion("mannerisms_unclear",
                                   f"{same}; whether it moves like {name} is unclear (mannerism score {pm:.2f}).",
                                   track_id)
    return ReferenceConclusion("consistent",
                               f"{same}, and it moves like {name} (mannerism score {pm:.2f}): consistent with "
                               f"{name}. This is not proof — a re-animation of {name}'s own footage can keep both.",
                               track_id)


__all__ = ["CONCLUSIONS", "Conclusion", "ReferenceConclusion", "conclude"]
