"""Lip sync: does the mouth on screen follow the voice on the sound track?

When someone speaks, the jaw and lower lip drop with each syllable, so how far
the mouth is open rises and falls with the loudness of the voice, the mouth
leading the sound by 0-0.3 s (Chandrasekaran et al., 2009). Audio laid over
someone else's video (a dub, a cloned voice over real footage) breaks that
link; a mouth re-animated to new audio by a lip-sync generator is trained to
keep it, so this check catches the first kind far better than the second
(docs/reference-benchmarks.md has the numbers).

For each assessable face, the mouth signal (the mean of lower-lip drop, jaw
drop and lip parting, each standardised along the track) and the speech
envelope (:mod:`unmask.media.speech`) are put on one 25 Hz grid, band-passed
to 0.5-8 Hz, and correlated at offsets of ±0.5 s. We report the best offset,
the correlation there and within the physiological range, its significance
(Fisher z against no relation, counting the signals' real degrees of freedom),
and 2 s windows where the mouth moves against the voice. The audio belongs to
whichever face follows it best: faces that merely listen are not judged.

Everything that cannot support a judgement is ``skipped`` with its reason: no
sound track, silence, music or other continuous sound, a video read in bursts
too short, no face big enough, or a mouth that barely moves while someone
speaks (a voice-over or narration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar, Literal

import numpy as np

from unmask.analyzers.base import Analyzer
from unmask.analyzers.results import LipSyncMismatch, LipSyncResult
from unmask.analyzers.sync_curve import (
    MIN_RUN_S,
    MISMATCH_MAX_CORR,
    OFFSET_MARGIN,
    PLAUSIBLE_LAG_S,
    SyncCurve,
    corr_upper,
    mouth_signal,
    runs,
    sync_curve,
    sync_suspicion,
    window_agreement,
)
from unmask.errors import InputError
from unmask.faces.signals import track_signals
from unmask.media.audio import AudioTrack, read_audio
from unmask.media.speech import Envelope, SoundClass, classify_sound, speech_envelope
from unmask.types import (
    AnalyzerResult,
    Evidence,
    FaceObs,
    FaceTrack,
    Heatmap,
    MediaContext,
    Need,
    TrackScore,
)

MIN_SPEECH_S = 1.0  # voiced seconds a face must be on screen for
MIN_FACE_PX = 64.0
#: a mouth whose lip parting varies less than this (canonical cm, std) while someone speaks is not speaking
MIN_MOUTH_STD_CM = 0.08
#: significance at which a face counts as following the voice (the speaker)
SPEAKER_Z = 2.5
SpeakerCall = Literal["speaks", "voice_over", "listener", "unknown"]
VOICE_OVER = "the lips barely move while someone speaks: a voice-over or narration, not this face speaking"
MISMATCH_DEV_FP = "1 of 29"
#: real speakers' correlation at the scan's 8 fps on the development set: median 0.31 (0.11-0.64 over 29 clips)
REAL_CORR_TYPICAL = 0.3
EVIDENCE_LEVEL = 0.5

@dataclass(frozen=True)
class _TrackSync:
    track: FaceTrack
    curve: SyncCurve | None
    features: dict[str, float]
    windows: list[tuple[float, float, float, float]]
    skip: str | None  # why this face is not judged


class AVSyncAnalyzer(Analyzer):
    """Mouth movement against the speech envelope, per face; the speaking face decides."""

    name: ClassVar[str] = "av_sync"
    version: ClassVar[str] = "1.0"
    needs: ClassVar[frozenset[Need]] = frozenset({Need.FACES, Need.TIME, Need.LANDMARKS})
    checks: ClassVar[str] = (
        "whether the mouth opens and closes with the voice on the sound track, and how far apart they are in time"
    )
    feature_words: ClassVar[dict[str, str]] = {
        "corr": "how closely the mouth follows the loudness of the voice (correlation at the likeliest natural offset)",
        "corr_best": "the best mouth/voice correlation at any offset within half a second",
        "offset_s": "the offset at which mouth and voice match best (positive: the mouth moves first)",
        "sync_z": "how far the mouth/voice match is from chance (standard errors)",
        "disagree_frac": "share of 2-second stretches of speech where the mouth moves against the voice",
        "speech_s": "seconds of speech while the face was on screen",
        "mouth_std_cm": "how much the lips part and close",
    }
    suspect_when: ClassVar[dict[str, int]] = {"corr": -1, "corr_best": -1, "sync_z": -1, "disagree_frac": 1}

    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        if ctx.is_still or ctx.info.kind != "video":
            return self.skipped("only videos have a sound track to compare the mouth with")
        if not ctx.info.has_audio:
            return self.skipped("the file has no sound track")
        faces = [tr for tr in ctx.tracks if tr.with_landmarks and tr.median_size >= MIN_FACE_PX]
        if not faces:
            return self.skipped(f"no face large enough to read the lips (needs {MIN_FACE_PX:.0f} px)")
        if len({s.segment for s in ctx.sampled}) > 1:
            return self._bursts(ctx, faces)
        t0 = min(tr.start_t for tr in faces)
        t1 = max(tr.end_t for tr in faces)
        try:
            audio = read_audio(ctx.info.path, start_s=max(0.0, t0 - 1.0), end_s=t1 + 1.0)
        except InputError as e:
            return self.skipped(f"the sound track cannot be read ({e.problem})")
        if audio is None:
            return self.skipped("the file has no sound track")
        env = speech_envelope(audio)
        sound = classify_sound(env)
        if sound.kind != "speech":
            return self.skipped(sound.reason)
        return self._judge(ctx, faces, env, sound)

    def _bursts(self, ctx: MediaContext, faces: list[FaceTrack]) -> AnalyzerResult:
        """A long video read in bursts: each burst's sound is read on its own and pooled."""
        # Bursts (2.5 s by default) are at the edge of what a correlation can use; pool them all.
        spans: dict[int, tuple[float, float]] = {}
        for s in ctx.sampled:
            a, b = spans.get(s.segment, (s.t, s.t))
            spans[s.segment] = (min(a, s.t), max(b, s.t))
        if max(b - a for a, b in spans.values()) < MIN_RUN_S:
            return self.skipped(
                f"the video was read in bursts shorter than {MIN_RUN_S:.0f} s; lip sync needs longer stretches"
            )
        pieces: list[AudioTrack] = []
        for a, b in spans.values():
            try:
                piece = read_audio(ctx.info.path, start_s=max(0.0, a - 0.6), end_s=b + 0.6)
            except InputError as e:
                return self.skipped(f"the sound track cannot be read ({e.problem})")
            if piece is not None and len(piece.samples):
                pieces.append(piece)
        if not pieces:
            return self.skipped("the file has no sound track")
        env = _stitch(pieces)
        sound = classify_sound(env)
        if sound.kind != "speech":
            return self.skipped(sound.reason)
        return self._judge(ctx, faces, env, sound)

    def _judge(self, ctx: MediaContext, faces: list[FaceTrack], env: Envelope, sound: SoundClass) -> AnalyzerResult:
        results = [self._track(tr, env) for tr in faces]
        judged = [r for r in results if r.skip is None]
        if not judged:
            why = "; ".join(f"face {r.track.id}: {r.skip}" for r in results)
            return self.skipped(why)
        speakers = [r for r in judged if r.features["sync_z"] >= SPEAKER_Z]
        scores: list[TrackScore] = []
        evidence: list[Evidence] = []
        notes: list[str] = []
        for r in results:
            tid = r.track.id
            if r.skip is not None:
                notes.append(f"Face {tid}: not judged ({r.skip}).")
                continue
            f = r.features
            s = sync_suspicion(f["corr"], f["corr_best"], f["offset_s"], f["n_eff"])
            if speakers and r not in speakers:
                # someone else on screen is the speaker: this face listens, which proves nothing
                notes.append(f"Face {tid}'s mouth does not follow the voice, but face {speakers[0].track.id}'s does: "
                             f"face {tid} is listening, not speaking.")
                scores.append(TrackScore(tid, 0.0, dict(f, listener=1.0)))
                continue
            scores.append(TrackScore(tid, s, dict(f, listener=0.0),
                                     per_frame=tuple((0.5 * (a + b), _window_score(c, v)) for a, b, c, v in r.windows)))
            notes.append(self._describe(r, s))
            evidence += self._evidence(r, s)
        return self.ok(scores, evidence, " ".join(notes),
                       video_features={"speech_s": float(sound.voiced_s), "pause_frac": float(sound.pause_frac)})

    def ok(self, tracks: list[TrackScore] | tuple[TrackScore, ...], evidence: list[Evidence] | tuple[Evidence, ...],
           explanation: str, video_features: dict[str, float] | None = None,
           heatmaps: list[Heatmap] | tuple[Heatmap, ...] = ()) -> LipSyncResult:
        """The result, with the speaking faces whose mouth fails to follow the voice (for the lip-sync rule)."""
        res = super().ok(tracks, evidence, explanation, video_features, heatmaps)
        mismatches = []
        for t in res.tracks:
            f = t.features
            if f.get("listener", 0.0) >= 1.0 or "corr" not in f:
                continue
            ub = corr_upper(f["corr"], f.get("n_eff", 0.0))
            if math.isfinite(ub) and ub < MISMATCH_MAX_CORR:
                mismatches.append(LipSyncMismatch(t.track_id, f["corr"], ub))
        return LipSyncResult(**{fl.name: getattr(res, fl.name) for fl in fields(res)}, mismatches=tuple(mismatches),
                             max_corr=MISMATCH_MAX_CORR, dev_false_positives=MISMATCH_DEV_FP)

    def speaker_check(self, faces: list[FaceTrack], track_id: int, env: Envelope) -> SpeakerCall:
        """Is face ``track_id`` the one speaking? ``voice_over`` (its lips barely move while someone speaks),
        ``listener`` (another face follows the voice, it does not), ``speaks``, or ``unknown`` (lip sync cannot
        tell: too short, too little speech)."""
        results = {r.track.id: r for r in (self._track(tr, env) for tr in faces)}
        mine = results.get(track_id)
        if mine is None:
            return "unknown"
        if mine.skip is not None:
            return "voice_over" if mine.skip == VOICE_OVER else "unknown"
        others = [r for tid, r in results.items() if tid != track_id and r.skip is None
                  and r.features["sync_z"] >= SPEAKER_Z]
        if mine.features["sync_z"] < SPEAKER_Z and others:
            return "listener"
        return "speaks"

    def _track(self, track: FaceTrack, env: Envelope) -> _TrackSync:
        sig = track_signals(track)
        if len(sig) < 8:
            return _TrackSync(track, None, {}, [], "too few frames with lip points")
        mouth = mouth_signal(sig)
        mouth_std = float(np.std(sig.signal("mouth_open")))
        curve = sync_curve(sig.t, mouth, sig.segment, env)
        if curve is None:
            return _TrackSync(
                track, None, {}, [], f"on screen for less than {MIN_RUN_S:.0f} s at a stretch while the sound plays"
            )
        if curve.speech_s < MIN_SPEECH_S:
            return _TrackSync(
                track,
                curve,
                {},
                [],
                f"only {curve.speech_s:.1f} s of speech while the face is on screen (needs {MIN_SPEECH_S:.0f} s)",
            )
        if mouth_std < MIN_MOUTH_STD_CM:
            return _TrackSync(track, curve, {}, [], VOICE_OVER)
        lag_r, r_in = curve.in_range
        lag_b, r_b = curve.best
        if not math.isfinite(r_in):
            return _TrackSync(track, curve, {}, [], "the sound does not cover the face's time on screen")
        windows = window_agreement(sig.t, mouth, sig.segment, env, lag_r)
        speechy = [w for w in windows if w[3] >= 0.4]
        disagree = [w for w in speechy if w[2] < 0.0]
        feats = {
            "corr": r_in,
            "offset_s": lag_b if math.isfinite(r_b) else lag_r,
            "corr_best": r_b if math.isfinite(r_b) else r_in,
            "sync_z": curve.z(r_in),
            "disagree_frac": float(len(disagree) / len(speechy)) if speechy else 0.0,
            "speech_s": float(curve.speech_s),
            "mouth_std_cm": mouth_std,
            "n_eff": float(curve.n_eff),
        }
        return _TrackSync(track, curve, feats, windows, None)

    @staticmethod
    def _describe(r: _TrackSync, s: float) -> str:
        f = r.features
        tid = r.track.id
        base = (f"Face {tid}: mouth and voice correlate at {f['corr']:.2f} "
                f"({f['sync_z']:.1f} standard errors from chance, over {f['speech_s']:.0f} s of speech)")
        if s >= EVIDENCE_LEVEL and f["corr_best"] - f["corr"] >= OFFSET_MARGIN:
            return (
                base
                + f"; they match best {abs(f['offset_s']):.2f} s apart, outside the natural range: "
                "the sound looks shifted."
            )
        if s >= EVIDENCE_LEVEL:
            return base + (f"; the mouth does not follow the voice (real speakers typically give about "
                           f"{REAL_CORR_TYPICAL:.1f}; this low in only {MISMATCH_DEV_FP} real development clips).")
        return base + ", as in real speech (a lip-sync generator also keeps this, so a match is no proof)."

    def _evidence(self, r: _TrackSync, s: float) -> list[Evidence]:
        tid = r.track.id
        f = r.features
        obs = r.track.observations
        out: list[Evidence] = []
        if s >= EVIDENCE_LEVEL:
            if f["corr_best"] - f["corr"] >= OFFSET_MARGIN and not (
                PLAUSIBLE_LAG_S[0] <= f["offset_s"] <= PLAUSIBLE_LAG_S[1]
            ):
                what = (
                    f"mouth and voice match best when shifted by {abs(f['offset_s']):.2f} s "
                    f"({'the mouth first' if f['offset_s'] > 0 else 'the voice first'}), outside the 0.1 s-before to "
                    "0.3 s-after range of natural speech: the sound track looks out of sync"
                )
                cue = "av_offset"
            else:
                what = (
                    f"the mouth does not open and close with the voice (correlation {f['corr']:.2f} over "
                    f"{f['speech_s']:.0f} s of speech; real speakers typically give about {REAL_CORR_TYPICAL:.1f}): "
                    "the voice may not be this person's, or the mouth was re-animated"
                )
                cue = "av_mismatch"
            out.append(Evidence(cue, f"Face {tid}, {r.track.start_t:.1f}–{r.track.end_t:.1f} s: {what}.", s,
                                r.track.start_t, r.track.end_t, tid, obs[0].frame_index, obs[-1].frame_index))
        # where the mouth moves against the voice, said only once the track as a whole does not match:
        # on a matching track such windows are chance, and must not become the headline of a real video
        bad = [w for w in r.windows if w[3] >= 0.4 and w[2] < -0.2] if s >= EVIDENCE_LEVEL else []
        for a, b, c, _ in _merge(bad)[:3]:
            out.append(
                Evidence(
                    "av_disagree",
                    f"Face {tid}, {a:.1f}–{b:.1f} s: while someone speaks, the mouth moves against "
                    f"the voice (correlation {c:.2f}).",
                    _window_score(c, 1.0) * (0.5 + 0.5 * s),
                    a,
                    b,
                    tid,
                    _frame_at(obs, a),
                    _frame_at(obs, b),
                )
            )
        return out


def _window_score(corr: float, voiced: float) -> float:
    """A 2 s window's suspicion: 0 at a correlation of 0.3 or more, 1 at -0.5 (mouth against the voice)."""
    if voiced < 0.4 or not math.isfinite(corr):
        return 0.0
    return float(min(1.0, max(0.0, (0.3 - corr) / 0.8)))


def _merge(windows: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """Overlapping windows joined into spans (with the span's lowest correlation), lowest first."""
    spans: list[list[float]] = []
    for a, b, c, v in sorted(windows):
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
            spans[-1][2] = min(spans[-1][2], c)
        else:
            spans.append([a, b, c, v])
    return sorted((tuple(s) for s in spans), key=lambda s: s[2])  # type: ignore[misc]


def _frame_at(obs: tuple[FaceObs, ...], t: float) -> int:
    best = min(obs, key=lambda o: abs(o.t - t))
    return int(best.frame_index)


def _stitch(pieces: list[AudioTrack]) -> Envelope:
    """One envelope over several separately read stretches of sound (gaps stay NaN-free but unvoiced)."""
    envs = [speech_envelope(p) for p in pieces]
    envs = [e for e in envs if len(e.db)]
    hop = envs[0].hop_s
    start = min(e.start_s for e in envs)
    end = max(e.start_s + len(e.db) * hop for e in envs)
    n = int(math.ceil((end - start) / hop)) + 1
    floor = float(min(np.percentile(e.db, 10) for e in envs))
    db = np.full(n, floor)
    smooth = np.full(n, floor)
    voiced = np.zeros(n, bool)
    for e in envs:
        i = int(round((e.start_s - start) / hop))
        k = min(len(e.db), n - i)
        db[i:i + k] = e.db[:k]
        smooth[i:i + k] = e.smooth[:k]
        voiced[i:i + k] = e.voiced[:k]
    return Envelope(db, smooth, voiced, start, hop)


__all__ = ["AVSyncAnalyzer", "MISMATCH_MAX_CORR", "SyncCurve", "corr_upper", "mouth_signal", "runs", "sync_curve",
           "sync_suspicion", "window_agreement"]
