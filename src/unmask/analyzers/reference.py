"""Reference check: is this face the claimed person, and does it move like them?

Runs only when the scan names a claimed person (``unmask scan --claims NAME``)
and so never touches the verdict of a scan without a claim. For the largest
faces it compares dlib embeddings of the same frames the temporal analyzer
embeds (shared, so paid once) with the person's enrolled distribution; the
best-matching face is the claimed one, and its mannerism windows (4 s of
facial-movement correlations, :mod:`unmask.reference.mannerisms`) are scored
against the person's. Both numbers are calibrated probabilities
(``models/reference.json``). When the profile has a voice, the clip's
speech is compared with it too (:mod:`unmask.reference.voice`), unless lip
sync shows the speech is not the claimed face's (its lips barely move, or
another face is the one speaking). :mod:`unmask.reference.conclusion` says
what the combination means.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from unmask.analyzers.av_sync import AVSyncAnalyzer
from unmask.analyzers.base import Analyzer
from unmask.analyzers.results import ClaimCheck, ClaimResult
from unmask.config import IDENTITY_FRAMES
from unmask.errors import InputError
from unmask.faces.embed import MIN_FACE_PX, FaceEmbedder, evenly_spaced
from unmask.faces.signals import track_signals
from unmask.media.audio import read_audio
from unmask.media.speech import speech_envelope
from unmask.reference.conclusion import ReferenceConclusion, VoiceWords, conclude
from unmask.reference.identity import profile_distance
from unmask.reference.mannerisms import NOMINAL_FPS, WINDOW_S, Windows, match, pair_words, track_windows
from unmask.reference.model import ReferenceModel
from unmask.reference.profile import PersonProfile
from unmask.reference.voice import VoiceCheck, VoiceModel, check_voice
from unmask.types import (
    AnalyzerResult,
    Evidence,
    FaceTrack,
    Heatmap,
    MediaContext,
    Need,
    TrackScore,
)
from unmask.voice.encoder import VoiceEncoder

#: faces compared with the claimed person, largest/longest first (each costs a few embeddings)
MAX_TRACKS = 3
#: embeddings per face when the scan's identity_frames is 0
DEFAULT_EMBEDDINGS = 6
#: the voice check reads at most this much sound (enrolment reads as much of a file)
MAX_AUDIO_S = 600.0


class ReferenceAnalyzer(Analyzer):
    """Identity, mannerisms and voice of the faces against one enrolled person."""

    name: ClassVar[str] = "reference"
    version: ClassVar[str] = "1.1"
    needs: ClassVar[frozenset[Need]] = frozenset({Need.FACES, Need.LANDMARKS})
    checks: ClassVar[str] = ("whether the face is the claimed person's, moves the way that person moves and speaks "
                             "with their voice, against enrolled footage")
    feature_words: ClassVar[dict[str, str]] = {
        "identity_p": "probability that the face is the claimed person's",
        "identity_distance": "face-embedding distance to the claimed person's enrolled faces",
        "mannerism_p": "probability that the face moves like the claimed person",
        "mannerism_llr": "log-likelihood ratio of the movements, claimed person against anyone else",
        "voice_p": "probability that the voice is the claimed person's",
        "voice_similarity": "similarity of the voice to the claimed person's enrolled speech (cosine)",
    }

    def __init__(self, profile: PersonProfile | None = None, model: ReferenceModel | None = None,
                 embedder: FaceEmbedder | None = None, voice_encoder: VoiceEncoder | None = None,
                 voice_model: VoiceModel | None = None, identity_frames: int = IDENTITY_FRAMES) -> None:
        """``identity_frames``: face embeddings per track compared with the profile (0: the analyzer's default)."""
        self.profile = profile
        self.identity_frames = identity_frames
        self._model = model
        self._embedder = embedder or FaceEmbedder()
        self._voice_encoder = voice_encoder or VoiceEncoder()
        self._voice_model = voice_model

    @property
    def voice_model(self) -> VoiceModel:
        if self._voice_model is None:
            self._voice_model = VoiceModel.load()
        return self._voice_model

    @property
    def model(self) -> ReferenceModel:
        if self._model is None:
            self._model = ReferenceModel.load()
        return self._model

    def load(self) -> None:
        if self.profile is not None:
            _ = self.model
            self._embedder.load()
            if self.profile.voice is not None:
                _ = self.voice_model
                self._voice_encoder.load()

    def conclusion(self, result: AnalyzerResult) -> ReferenceConclusion:
        """The plain-words conclusion for a result this analyzer produced."""
        if result.status != "ok":
            name = self.profile.name if self.profile else "the claimed person"
            return conclude(name, None, None, self.model.same_face, self.model.foreign_mannerisms, result.reason or "")
        return self._conclude(result.tracks)

    def _conclude(self, tracks: tuple[TrackScore, ...] | list[TrackScore]) -> ReferenceConclusion:
        name = self.profile.name if self.profile else "the claimed person"
        top = _claimed(tracks)
        feats = dict(top.features)
        if feats.get("mannerism_windows", 0.0) == 0.0:
            feats["mannerism_p"] = math.nan
        return conclude(name, feats, top.track_id, self.model.same_face, self.model.foreign_mannerisms,
                        voice=_voice_words(top))

    def claim_result(self, result: AnalyzerResult) -> ClaimResult:
        """``result`` with the conclusion about the claimed person, as the report and the rules read it."""
        prof = self.profile
        claim = None
        if prof is not None:
            c = self.conclusion(result)
            voice = _voice_words(_claimed(result.tracks)) if result.status == "ok" and result.tracks else None
            claim = ClaimCheck(prof.name, prof.version, prof.created_at, prof.sha256(), self.model.sha256,
                               c.conclusion, c.statement, c.track_id, self.model.foreign_mannerisms, voice)
        return ClaimResult(**{f.name: getattr(result, f.name) for f in fields(result)}, claim=claim)

    def ok(self, tracks: list[TrackScore] | tuple[TrackScore, ...], evidence: list[Evidence] | tuple[Evidence, ...],
           explanation: str, video_features: dict[str, float] | None = None,
           heatmaps: list[Heatmap] | tuple[Heatmap, ...] = ()) -> ClaimResult:
        return self.claim_result(super().ok(tracks, evidence, explanation, video_features, heatmaps))

    def skipped(self, reason: str) -> ClaimResult:
        return self.claim_result(super().skipped(reason))

    def failed(self, error: Exception) -> ClaimResult:
        return self.claim_result(super().failed(error))

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        if self.profile is None:
            return self.skipped("no claimed person (scan with --claims NAME to check a video against enrolled footage)")
        prof, model = self.profile, self.model
        faces = sorted((t for t in ctx.tracks if t.median_size >= MIN_FACE_PX and t.with_landmarks),
                       key=lambda t: (-len(t.with_landmarks), t.id))[:MAX_TRACKS]
        if not faces:
            return self.skipped(f"no face large enough to recognise (needs {MIN_FACE_PX:.0f} px)")
        n_emb = self.identity_frames or DEFAULT_EMBEDDINGS
        rate = ctx.sampled_fps
        rows: list[tuple[FaceTrack, dict[str, float], list[Evidence]]] = []
        for tr in faces:
            embs = self.track_embeddings(tr, n_emb)
            if not len(embs):
                continue
            im = profile_distance(prof.embeddings, embs)
            pid = model.identity(im.distance)
            feats = {"identity_p": pid, "identity_distance": im.distance, "identity_embeddings": float(im.n_checked),
                     "mannerism_windows": 0.0, "claimed": 0.0, "still_image": 1.0 if ctx.is_still else 0.0}
            rows.append((tr, feats, []))
        if not rows:
            return self.skipped("no face could be embedded to compare identities")
        claimed = max(rows, key=lambda r: (r[1]["identity_p"], len(r[0].with_landmarks)))
        claimed[1]["claimed"] = 1.0
        vc = self.check_voice(ctx, claimed[0])
        claimed[1].update(vc.features())
        if vc.matches is False:
            a, b = vc.span
            claimed[2].append(Evidence(
                "voice_mismatch",
                f"{a:.1f}–{b:.1f} s: the voice is not {prof.name}'s (voice similarity {vc.similarity:.2f}; "
                f"{prof.name}'s enrolled speech {vc.own_range[0]:.2f}–{vc.own_range[1]:.2f} against itself; other "
                f"speakers mostly below {vc.others_below:.2f}; {vc.segments} segments, {vc.speech_s:.1f} s of speech).",
                float(min(1.0, max(0.0, 1.0 - vc.p_same))), max(0.0, a), max(0.0, a, b), claimed[0].id))
        longest = rows[0]
        scores: list[TrackScore] = []
        for tr, feats, ev in rows:
            if (tr is claimed[0]) or (tr is longest[0] and claimed[1]["identity_p"] < model.same_face):
                self._mannerisms(tr, feats, ev, rate)
            same = feats["identity_p"] >= model.same_face
            pm = feats.get("mannerism_p")
            # the analyzer's own suspicion: only a matching face that moves like someone else is suspicious,
            s = (1.0 - pm) if (same and pm is not None) else (0.5 if same else 0.0)
            if same and "voice_p" in feats:  # ... or that speaks with someone else's voice
                s = max(s, 1.0 - feats["voice_p"]) if pm is not None else 1.0 - feats["voice_p"]
            scores.append(TrackScore(tr.id, float(min(1.0, max(0.0, s))), feats))
        c = self._conclude(scores)
        evidence = [e for _, _, ev in rows for e in ev]
        note = (
            ""
            if rate >= NOMINAL_FPS - 1e-6
            else (
                f" (frames were analysed at {rate:.1f} per second, fewer than the "
                f"{NOMINAL_FPS:.0f} of enrolment, so mannerisms are noisier)"
            )
        )
        if c.conclusion == "mannerisms_not_checked" and len({s.segment for s in ctx.sampled}) > 1:
            note = (" This long video was read in short bursts; rescan with --set sampling.burst_s=8 to compare "
                    "mannerisms.")
        return self.ok(scores, evidence, c.statement + note,
                       video_features={"profile_embeddings": float(prof.n_embeddings),
                                       "profile_windows": float(prof.n_windows)})

    def check_voice(self, ctx: MediaContext, tr: FaceTrack) -> VoiceCheck:
        """The clip's voice against the profile's, or why not (no voice enrolled, no speech, not this face's)."""
        prof = self.profile
        if prof is None or prof.voice is None:
            return VoiceCheck("no_enrolled_voice")
        if ctx.is_still or ctx.info.kind != "video":
            return VoiceCheck("still_image")
        if not ctx.info.has_audio:
            return VoiceCheck("no_sound")
        try:
            # the sound while there is picture: a longer sound track (a dub laid over a short video) is not the clip's
            audio = read_audio(ctx.info.path, end_s=min(MAX_AUDIO_S, ctx.info.duration_s or MAX_AUDIO_S))
        except InputError:
            return VoiceCheck("unreadable")
        vc = check_voice(audio, prof.voice, self._voice_encoder, self.voice_model)
        if vc.skip is not None or audio is None or len({s.segment for s in ctx.sampled}) > 1:
            return vc  # a long video's bursts: lip sync over the whole sound is not measured, the voice is kept
        lips = [t for t in ctx.tracks if t.with_landmarks and t.median_size >= MIN_FACE_PX]
        call = AVSyncAnalyzer().speaker_check(lips, tr.id, speech_envelope(audio))
        if call in ("voice_over", "listener"):
            return replace(vc, skip=call, similarity=math.nan, p_same=math.nan)
        return vc

    def track_embeddings(self, tr: FaceTrack, n: int) -> NDArray[Any]:
        """(k, 128) embeddings of ``n`` evenly spaced observations (the temporal analyzer's, when it ran)."""
        embs = [v for _, v in self._embedder.embed_many(evenly_spaced(tr.observations, n))]
        return np.stack(embs) if embs else np.zeros((0, 128), np.float32)

    @staticmethod
    def track_windows(tr: FaceTrack, rate: float) -> Windows:
        """Mannerism windows of a scanned track (coverage judged at the scan's sampling rate)."""
        return track_windows(track_signals(tr), nominal_fps=min(rate, NOMINAL_FPS))

    def _mannerisms(self, tr: FaceTrack, feats: dict[str, float], ev: list[Evidence], rate: float) -> None:
        if self.profile is None or self.profile.n_windows == 0:
            return
        w = self.track_windows(tr, rate)
        if len(w) == 0:
            return
        m = match(self.profile.windows, w.vectors, self.model.population)
        pm = self.model.mannerisms(m.llr)
        feats.update(mannerism_p=pm, mannerism_llr=m.llr, mannerism_windows=float(len(w)))
        if pm < self.model.foreign_mannerisms:  # evidence only where the conclusion says "foreign"
            k, here, there = m.top_pairs[0]
            obs = tr.observations
            ev.append(Evidence(
                "foreign_mannerisms",
                f"Face {tr.id}, {w.spans[0][0]:.1f}–{w.spans[-1][1]:.1f} s: it does not move like "
                f"{self.profile.name} (mannerism score {pm:.2f} over {len(w)} windows of {WINDOW_S:.0f} s); the "
                f"biggest difference is {pair_words(k)}: correlation {here:+.2f} here, {there:+.2f} in the enrolled "
                "footage.",
                float(min(1.0, 1.0 - pm)), w.spans[0][0], w.spans[-1][1], tr.id,
                obs[0].frame_index, obs[-1].frame_index))


def _claimed(tracks: tuple[TrackScore, ...] | list[TrackScore]) -> TrackScore:
    """The face compared with the claimed person (marked ``claimed``; else the best identity match)."""
    return max(tracks, key=lambda t: (t.features.get("claimed", 0.0), t.features["identity_p"]))


def _voice_words(top: TrackScore) -> VoiceWords | None:
    """The claimed face's voice check as the conclusion and the voice rule read it (None: no voice enrolled)."""
    vc = VoiceCheck.from_features(top.features)
    return None if vc is None else VoiceWords(vc.matches, vc.similarity, vc.own_range, vc.others_below,
                                              vc.reason(top.track_id))


__all__ = ["ReferenceAnalyzer"]
