"""Explicit combination rules: strong lip-sync or reference evidence can raise the fusion's label.

The fusion model (``models/fusion.json``) was fitted before the lip-sync and
reference analyzers existed and reads none of their features, so on its own it
would ignore a voice that does not belong to the mouth, or a claimed person's
face that moves like someone else. Rather than refit it silently, these rules
are separate, few and documented (docs/architecture.md, "Combination rules"):
each names its evidence, has its own threshold measured on the development
set, and can only raise the label (``likely_real`` → ``inconclusive`` →
``likely_fake``), never lower it, and never touch ``no_face``/``cannot_assess``.
The fusion score is left as it is; the report lists every rule that fired.

- ``lip_sync_mismatch``: the speaking face's mouth does not follow the voice.
  Fires when the mouth/voice correlation, even one standard error above what
  was measured, stays below ``sync_curve.MISMATCH_MAX_CORR`` (0.25), which 1 of
  the 29 real development clips with speech reach (3 %, under the 5 % budget).
  Raises to ``inconclusive`` only: on clips of 3-10 s the correlation is noisy
  (on the development set it fires on 4 % of dubbed clips, 18 % of those with
  5 s of speech or more, on 36 % of clips whose sound is 0.4 s off, and on
  none of the Wav2Lip-style lip-sync fakes, which are trained to stay in sync:
  docs/reference-benchmarks.md), so it asks for a closer look rather than
  calling the video fake.
- ``foreign_mannerisms``: with ``--claims``, the face is the claimed person's
  but moves like someone else (mannerism probability below the calibration's
  ``foreign_mannerisms`` threshold, chosen so that at most 5 % of same-person
  development checks fall below it). Raises to ``inconclusive`` only: the
  development data behind mannerisms is thin (few people, clips of 3-8 s).
- ``voice_mismatch``: with ``--claims``, the face is the claimed person's but
  the voice, compared with their enrolled speech, is not (the claim's voice
  check: the conclusion ``voice_mismatch``, or ``impersonator`` with a
  voice that does not match either). It adds no threshold of its own: it
  reads the voice check's (``models/voice.json``; 0 of 26 same-person
  development trials fall below it). Raises to ``inconclusive`` only: a dub,
  a translation or a voice-over of the person's own video gives the same
  answer as a face swap over an impersonator, and is not a fake.

One rule goes the other way, and runs last: ``damaged_input``. A file where
part of the stream could not be decoded (damaged packets, cut off, a stretch
with no picture; ``FrameReader.coverage``) never gets a confident verdict: its
label is capped at ``inconclusive``, and when less than half of what was to
be read could be decoded it is ``cannot_assess`` (the verdict rests on too
little of the video, and the missing part may be where the face is). The
summary leads with why, in seconds: "only 3.1 of 10.0 s could be decoded".

Two provenance rules run after it (:func:`apply_provenance`; the file's Content
Credentials, :mod:`unmask.provenance`). Neither touches the fusion score, and
container metadata is never read by any rule.

- ``declared_synthetic``: a valid credential (signature and hashes verify)
  whose actions declare the content made with generative AI (digital source
  type ``trainedAlgorithmicMedia``, ``compositeSynthetic`` or
  ``compositeWithTrainedAlgorithmicMedia``) sets the label to
  ``declared_synthetic`` whatever the cues said, naming the signer. A signer
  whose certificate is not on a trust list still counts: nobody forges a
  credential to confess that a video is synthetic, and the signature shows the
  file is unchanged since it was signed.
- ``capture_credential``: a valid credential from a capture device with no
  edits is strong evidence of a recording, but it does not lower a detectors'
  ``likely_fake`` (a device key can be misused, a screen can be filmed); when
  both happen the rule fires without changing the label and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from unmask.analyzers.results import ClaimResult, LipSyncMismatch, LipSyncResult
from unmask.fusion import Verdict
from unmask.provenance.credentials import AI_SOURCE_TYPES, Credential
from unmask.types import (
    SCORED_LABELS,
    AnalyzerResult,
    DecodeCoverage,
    Label,
)

#: the labels a rule may raise, least to most suspicious
_ORDER: dict[str, int] = {label: i for i, label in enumerate(SCORED_LABELS)}

LIP_SYNC_RULE = "lip_sync_mismatch"
MANNERISMS_RULE = "foreign_mannerisms"
VOICE_RULE = "voice_mismatch"
#: the rules that raise a label on evidence the fusion does not read (so a refit does not change whether they fire)
RAISING_RULES = frozenset({LIP_SYNC_RULE, MANNERISMS_RULE, VOICE_RULE})
#: the claim's conclusions in which the face is the claimed person's (the voice rule fires only on those)
_FACE_MATCHES = frozenset({"consistent", "impersonator", "voice_mismatch", "mannerisms_unclear",
                           "mannerisms_not_checked"})
DAMAGE_RULE = "damaged_input"
#: a damaged file with less than this share of its (planned) video decoded gets ``cannot_assess``
MIN_DECODED_FRACTION = 0.5
DECLARED_RULE = "declared_synthetic"
CAPTURE_RULE = "capture_credential"


@dataclass(frozen=True)
class RuleHit:
    """One rule that fired: what it saw and what it did to the label."""

    rule: str
    analyzer: str
    track_id: int | None
    from_label: Label
    to_label: Label
    detail: str


def _raise(label: Label, to: Label) -> Label:
    if label not in _ORDER:
        return label
    return to if _ORDER[to] > _ORDER[label] else label


def lip_sync_hit(results: Sequence[AnalyzerResult], assessable: set[int]) -> LipSyncMismatch | None:
    """The assessable speaking face whose mouth fails to follow the voice most clearly, if any."""
    r = next((r for r in results if isinstance(r, LipSyncResult) and r.status == "ok"), None)
    worst: LipSyncMismatch | None = None
    for m in r.mismatches if r is not None else ():
        if m.track_id in assessable and (worst is None or m.upper < worst.upper):
            worst = m
    return worst


def apply_rules(verdict: Verdict, results: Sequence[AnalyzerResult]) -> tuple[Verdict, tuple[RuleHit, ...]]:
    """The verdict with its label raised by every rule that fires, and those rules."""
    if verdict.label not in _ORDER:
        return verdict, ()
    assessable = {t.track_id for t in verdict.tracks if t.assessable}
    hits: list[RuleHit] = []
    label: Label = verdict.label
    ls = lip_sync_hit(results, assessable)
    sync = next((r for r in results if isinstance(r, LipSyncResult)), None)
    if ls is not None and sync is not None:
        tid, corr = ls.track_id, ls.corr
        new = _raise(label, Label.INCONCLUSIVE)
        hits.append(RuleHit(LIP_SYNC_RULE, sync.name, tid, label, new,
                            f"Face {tid}'s mouth does not follow the voice (correlation {corr:.2f}; even allowing for "
                            f"chance it stays below {sync.max_corr:.2f}, as in only {sync.dev_false_positives} real "
                            "development clips with speech): the sound may have been laid over this video, or the "
                            "mouth re-animated. Look and listen closely."))
        label = new
    ref = next((r for r in results if isinstance(r, ClaimResult) and r.claim is not None), None)
    if ref is not None and ref.claim is not None and ref.status == "ok":
        foreign_mannerisms = ref.claim.foreign_mannerisms
        top = next((t for t in ref.tracks if t.features.get("claimed", 0.0) >= 1.0), None)
        if top is not None and top.track_id in assessable:
            f = top.features
            if f.get("mannerism_windows", 0.0) > 0 and f.get("identity_p", 0.0) >= 0.5 \
                    and f.get("mannerism_p", 1.0) < foreign_mannerisms:
                new = _raise(label, Label.INCONCLUSIVE)
                who = ref.claim.claimed
                hits.append(RuleHit(MANNERISMS_RULE, ref.name, top.track_id, label, new,
                                    f"Face {top.track_id} matches {who}'s face but not how {who} moves (mannerism "
                                    f"score {f['mannerism_p']:.2f}, below {foreign_mannerisms:.2f}): possibly "
                                    f"{who}'s face swapped onto someone else."))
                label = new
        hit = voice_hit(ref, assessable, label)
        if hit is not None:
            hits.append(hit)
            label = hit.to_label
    if label == verdict.label:
        return verdict, tuple(hits)
    return replace(verdict, label=label), tuple(hits)


def voice_hit(ref: ClaimResult, assessable: set[int], label: Label) -> RuleHit | None:
    """The ``voice_mismatch`` rule: the claimed person's face with a voice that was compared and is not theirs.

    Read from the claim's typed voice check, not from the analyzer's name or features. Raises to
    ``inconclusive`` only (``label`` is the label so far); fires, changing nothing, when it is already there.
    """
    claim = ref.claim
    if claim is None or ref.status != "ok" or claim.voice is None or claim.voice.matches is not False:
        return None
    if claim.conclusion not in _FACE_MATCHES or claim.track_id is None or claim.track_id not in assessable:
        return None
    who, tid = claim.claimed, claim.track_id
    new = _raise(label, Label.INCONCLUSIVE)
    return RuleHit(VOICE_RULE, ref.name, tid, label, new,
                   f"Face {tid} matches {who}'s face, but the voice is not {who}'s ({claim.voice.numbers(who)}): "
                   f"possibly {who}'s face swapped over an impersonator. A dub, a translation or a voice-over of "
                   f"{who}'s own video gives the same answer, so this asks for a closer look rather than calling "
                   "the video fake.")


def decoded_words(coverage: DecodeCoverage, duration_s: float) -> str:
    """"only 3.1 of 10.0 s could be decoded", or for a long video read in bursts, of the seconds it sampled."""
    of = f"{coverage.planned_s:.1f} s"
    if coverage.planned_s < duration_s - 0.5:
        of = f"the {coverage.planned_s:.1f} s sampled from this {duration_s:.1f} s video"
    only = "only " if coverage.fraction < 0.995 else ""
    return f"{only}{coverage.decoded_s:.1f} of {of} could be decoded"


def _damage_cap(label: Label) -> Label:
    """A damaged file's label when over half of it decoded: never sure either way."""
    return Label.INCONCLUSIVE if label in (Label.LIKELY_REAL, Label.LIKELY_FAKE) else label


def cap_for_damage(verdict: Verdict, coverage: DecodeCoverage | None, duration_s: float
                   ) -> tuple[Verdict, RuleHit | None]:
    """The ``damaged_input`` rule: a damaged file's label capped at inconclusive, or cannot_assess under half decoded.

    Returns the verdict (unchanged when the file decoded cleanly) and the rule's hit, if it fired.
    A cannot_assess verdict carries no score: the fusion's score on a fraction of the video is
    kept per face in the report, not offered as the video's.
    """
    if coverage is None or not coverage.damaged:
        return verdict, None
    seconds = decoded_words(coverage, duration_s)
    what = "; ".join(coverage.problems[:2]) or "part of the stream could not be decoded"
    if coverage.fraction < MIN_DECODED_FRACTION:
        detail = (f"The file is damaged: {seconds} ({what}), less than half, too little to judge the video: "
                  "the missing part may be where it was manipulated.")
        capped = Verdict(Label.CANNOT_ASSESS, None, verdict.likely_real, verdict.likely_fake, None,
                         (f"the file is damaged: {seconds}", *verdict.reasons), verdict.tracks, {})
    else:
        to = _damage_cap(verdict.label)
        detail = (f"The file is damaged: {seconds} ({what}), so no confident verdict is given; "
                  "try to get an undamaged copy.")
        capped = replace(verdict, label=to)
    return capped, RuleHit(DAMAGE_RULE, "decode", None, verdict.label, capped.label, detail)


def apply_provenance(verdict: Verdict, credential: Credential | None) -> tuple[Verdict, RuleHit | None]:
    """The provenance rules (after every other rule): a valid AI declaration sets ``declared_synthetic``; a valid
    capture credential beside a ``likely_fake`` is noted without changing it. Metadata is never read here."""
    if credential is None or not credential.valid:
        return verdict, None
    if credential.declares_ai:
        kinds = sorted({a.digital_source_type for a in credential.actions if a.digital_source_type} & AI_SOURCE_TYPES)
        tool = next((a.software_agent for a in credential.actions if a.digital_source_type in AI_SOURCE_TYPES
                     and a.software_agent), None)
        detail = (f"The file's Content Credentials, signed by {credential.signer_name}, declare it made with "
                  f"generative AI ({', '.join(kinds)}{', by ' + tool if tool else ''}); the signature and hashes "
                  "verify.")
        if not credential.trusted:
            detail += (" The signer's certificate is not on a trust list, but a false declaration of AI generation "
                       "would gain its signer nothing.")
        hit = RuleHit(DECLARED_RULE, "provenance", None, verdict.label, Label.DECLARED_SYNTHETIC, detail)
        return replace(verdict, label=Label.DECLARED_SYNTHETIC), hit
    if credential.capture_unedited and verdict.label == Label.LIKELY_FAKE:
        detail = (f"The file's Content Credentials, signed by {credential.signer_name}, say a capture device recorded "
                  "it with no edits since. That is strong evidence of a recording, but it does not override the "
                  "detectors: a device's key can be misused and a screen or a staged scene can be filmed, so both "
                  "the credential and the cues are reported.")
        return verdict, RuleHit(CAPTURE_RULE, "provenance", None, verdict.label, verdict.label, detail)
    return verdict, None


__all__ = ["CAPTURE_RULE", "DAMAGE_RULE", "DECLARED_RULE", "VOICE_RULE", "apply_provenance", "MIN_DECODED_FRACTION",
           "RuleHit", "apply_rules", "cap_for_damage", "decoded_words", "lip_sync_hit", "voice_hit"]


def replay_rules(verdict: Verdict, fired: Sequence[RuleHit], credential: Credential | None
                 ) -> tuple[Verdict, tuple[RuleHit, ...]]:
    """The rules of a saved report applied to a new fusion verdict of the same file (a rescore after a refit).

    A combination rule's evidence (lip sync, the claim, the voice) is not the fusion's, so every one that fired
    fires again, raising the new label; the damage cap and the provenance rules then run as in a scan. ``fired``:
    the saved hits in the order they fired. The returned hits carry the new labels; a capture credential's note
    appears or goes with the new ``likely_fake``. A saved damage hit that gave ``cannot_assess`` is kept as is
    (the seconds it names are not in the hit), so such a file stays ``cannot_assess``.
    """
    label = verdict.label
    hits: list[RuleHit] = []
    for h in fired:
        if h.rule in RAISING_RULES:
            new = _raise(label, Label.INCONCLUSIVE)
            hits.append(replace(h, from_label=label, to_label=new))
            label = new
    out = replace(verdict, label=label)
    damage = next((h for h in fired if h.rule == DAMAGE_RULE), None)
    if damage is not None:
        if damage.to_label == Label.CANNOT_ASSESS:
            out = Verdict(Label.CANNOT_ASSESS, None, verdict.likely_real, verdict.likely_fake, None, verdict.reasons,
                          verdict.tracks, {})
        else:
            out = replace(out, label=_damage_cap(label))
        hits.append(replace(damage, from_label=label, to_label=out.label))
    out, hit = apply_provenance(out, credential)
    if hit is not None:
        saved = next((h for h in fired if h.rule == hit.rule), None)  # keep its words as the report stated them
        hits.append(hit if saved is None else replace(saved, from_label=hit.from_label, to_label=hit.to_label))
    return out, tuple(hits)
