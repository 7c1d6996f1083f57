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

The voice (:mod:`unmask.reference.voice`) adds a third answer. A face that
matches with a voice that does not is ``voice_mismatch`` (unless the
movements already say ``impersonator``): the face matches, but the voice is
someone else's — a face swap over an impersonator, or the person's video
dubbed with another voice. Otherwise the voice adds a sentence to the
conclusion above: it agrees, it disagrees, it is the person's under someone
else's face, or why it was not compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from unmask.reference.mannerisms import WINDOW_S

Conclusion = Literal["consistent", "impersonator", "voice_mismatch", "mannerisms_unclear", "mannerisms_not_checked",
                     "not_this_person", "cannot_assess"]
CONCLUSIONS: tuple[Conclusion, ...] = ("consistent", "impersonator", "voice_mismatch", "mannerisms_unclear",
                                       "mannerisms_not_checked", "not_this_person", "cannot_assess")
#: mannerism probability at or above which the clip "moves like" the person
MOVES_LIKE = 0.5


@dataclass(frozen=True)
class ReferenceConclusion:
    conclusion: Conclusion
    statement: str  # plain words a journalist can quote
    track_id: int | None


@dataclass(frozen=True)
class VoiceWords:
    """What the voice check said, as the conclusion needs it: matches (True/False), or None with why not."""

    matches: bool | None
    similarity: float = math.nan
    own_range: tuple[float, float] = (math.nan, math.nan)
    others_below: float = math.nan
    why_not: str = ""

    def numbers(self, name: str) -> str:
        lo, hi = self.own_range
        return (f"voice similarity {self.similarity:.2f}; {name}'s enrolled speech {lo:.2f}–{hi:.2f} against itself; "
                f"other speakers mostly below {self.others_below:.2f}")


def conclude(name: str, feats: Mapping[str, float] | None, track_id: int | None, same_face: float,
             foreign: float, reason: str = "", voice: VoiceWords | None = None) -> ReferenceConclusion:
    """The conclusion for the claimed face's features and, when given, the voice check."""
    c = _face_conclusion(name, feats, track_id, same_face, foreign, reason)
    if voice is None or c.conclusion == "cannot_assess":
        return c
    if voice.matches is None:
        return replace(c, statement=c.statement + f" The voice was not compared ({voice.why_not}).")
    nums = voice.numbers(name)
    if c.conclusion == "not_this_person":
        if voice.matches:
            return replace(c, statement=c.statement + f" The voice, though, is {name}'s ({nums}): {name}'s voice "
                                                      "under someone else's face — a face swap onto footage of "
                                                      f"{name}, or {name}'s sound dubbed onto another video.")
        return replace(c, statement=c.statement + f" The voice is not {name}'s either ({nums}).")
    if voice.matches:
        if c.conclusion == "impersonator":
            return replace(c, statement=c.statement + f" The voice is {name}'s ({nums}), so the sound may be "
                                                      f"{name}'s own, laid under another person's performance.")
        return replace(c, statement=c.statement + f" The voice matches {name}'s too ({nums}).")
    if c.conclusion == "impersonator":
        return replace(c, statement=c.statement + f" The voice is not {name}'s either ({nums}).")
    if feats is None:  # cannot happen: every face conclusion but cannot_assess has features
        return c
    face = _same_words(name, feats, track_id)
    moves = {"consistent": f" It moves like {name} (mannerism score {feats['mannerism_p']:.2f}).",
             "mannerisms_unclear": f" Whether it moves like {name} is unclear.",
             "mannerisms_not_checked": " How it moves could not be compared."}.get(c.conclusion, "")
    return ReferenceConclusion("voice_mismatch",
                               f"{face}, but the voice does not ({nums}): possibly {name}'s face swapped over an "
                               f"impersonator, or {name}'s video dubbed with someone else's voice.{moves}", track_id)


def _face_conclusion(name: str, feats: Mapping[str, float] | None, track_id: int | None, same_face: float,
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
    same = _same_words(name, feats, track_id)
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


def _same_words(name: str, feats: Mapping[str, float], track_id: int | None) -> str:
    return (f"The face matches {name} (face {track_id}: identity score {feats['identity_p']:.2f}, "
            f"face distance {feats['identity_distance']:.2f})")


__all__ = ["CONCLUSIONS", "Conclusion", "ReferenceConclusion", "VoiceWords", "conclude"]
