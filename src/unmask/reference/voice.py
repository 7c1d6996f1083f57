"""Is the voice in a clip the enrolled person's? Speaker embeddings against their enrolled voice.

Enrolment keeps one GE2E speaker embedding (:mod:`unmask.voice.encoder`) per
3 s segment of the person's speech, and how far those segments spread around
their own centre (leave-one-out: each segment against the centre of the
others, or of the *other files* when there are several, so one recording's
room does not flatter itself). A check embeds the clip's speech the same way;
its similarity is the median, over its segments, of the cosine to the
enrolled centre. That number is read against the person's own spread and
against other speakers (``models/voice.json``, fitted on the development
clips by ``benchmarks/voice_eval.py --fit``).

Nothing is judged on sound that is not one person speaking: no sound,
silence, music, too little speech, or several voices (the segments fall
into more than one group when clustered) are reported as skipped, with the
reason.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from unmask.errors import ModelError
from unmask.media.audio import AudioTrack
from unmask.voice.encoder import EMBEDDING_DIM, VoiceEncoder
from unmask.voice.mel import RATE
from unmask.voice.segments import SpeechCut, speech_segments

#: a check needs this much speech (pauses removed); the EER target is stated for clips of at least 3 s
MIN_CHECK_SPEECH_S = 3.0
#: enrolment keeps a voice only with this much speech
MIN_ENROL_SPEECH_S = 6.0
#: enrolment keeps at most this many segments (10 minutes of speech)
MAX_ENROL_SEGMENTS = 200
#: a speaker group counts as a voice when it holds two segments and at least this share of them
MIN_GROUP_SHARE = 0.1


@dataclass(frozen=True)
class VoiceModel:
    """The shipped voice calibration: P(same speaker) from the similarity, and the other-speaker level."""

    coef: float
    intercept: float
    others_p95: float  # 95th percentile of similarity between different people on the development clips
    same_speaker_segment: float  # two segments of one speaker are usually above this cosine
    sha256: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def p_same(self, similarity: float) -> float:
        z = self.coef * similarity + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @property
    def threshold(self) -> float:
        """The similarity at which P(same speaker) is one half."""
        return -self.intercept / self.coef

    @classmethod
    def load(cls, path: str | Path | None = None) -> VoiceModel:
        try:
            raw = (resources.files("unmask.models").joinpath("voice.json").read_bytes() if path is None
                   else Path(path).read_bytes())
            d = json.loads(raw)
            return cls(float(d["logistic"]["coef"]), float(d["logistic"]["intercept"]), float(d["others_p95"]),
                       float(d["same_speaker_segment"]), hashlib.sha256(raw).hexdigest(),
                       {k: v for k, v in d.items() if k not in ("logistic",)})
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"cannot load the voice calibration {path or 'unmask/models/voice.json'}: {e}") from None


@dataclass(frozen=True)
class VoiceProfile:
    """A person's enrolled voice: (n, 256) float32 segment embeddings, the file each came from, their spread."""

    embeddings: npt.NDArray[np.float32]
    sources: tuple[int, ...]
    speech_s: float
    spread: tuple[float, float]  # p10, p90 of the segments' leave-one-out similarity to their own centre

    def __post_init__(self) -> None:
        e = self.embeddings
        if e.ndim != 2 or e.shape[1] != EMBEDDING_DIM or e.dtype != np.float32 or len(e) < 1:
            raise ValueError(f"VoiceProfile: embeddings must be (n>=1, {EMBEDDING_DIM}) float32, "
                             f"got {e.shape} {e.dtype}")
        if not np.all(np.isfinite(e)):
            raise ValueError("VoiceProfile: embeddings must be finite")
        if len(self.sources) != len(e):
            raise ValueError(f"VoiceProfile: {len(e)} embeddings but {len(self.sources)} sources")

    @property
    def n_segments(self) -> int:
        return int(len(self.embeddings))


def _unit(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def voice_similarity(enrolled: npt.NDArray[np.floating[Any]], checked: npt.NDArray[np.floating[Any]]) -> float:
    """Median over ``checked`` segments of the cosine to the centre of the ``enrolled`` ones."""
    if len(enrolled) == 0 or len(checked) == 0:
        raise ValueError("voice_similarity needs enrolled and checked embeddings")
    c = _unit(enrolled.astype(np.float64).mean(axis=0))
    return float(np.median(checked.astype(np.float64) @ c))


def own_spread(embeddings: npt.NDArray[np.floating[Any]], sources: Sequence[int]) -> tuple[float, float]:
    """(p10, p90) of each segment's similarity to the centre of the others (of the other files, when several)."""
    e = embeddings.astype(np.float64)
    src = np.asarray(sources)
    sims = []
    several = len(set(src.tolist())) > 1
    for i in range(len(e)):
        others = (src != src[i]) if several else (np.arange(len(e)) != i)
        if others.any():
            sims.append(float(e[i] @ _unit(e[others].mean(axis=0))))
    if not sims:
        return (1.0, 1.0)
    return (float(np.percentile(sims, 10)), float(np.percentile(sims, 90)))


def speaker_labels(embeddings: npt.NDArray[np.floating[Any]], model: VoiceModel) -> npt.NDArray[np.int_]:
    """A group label per segment: average-linkage clustering, cut where segments stop sounding like one speaker."""
    n = len(embeddings)
    if n < 2:
        return np.zeros(n, int)
    from scipy.cluster.hierarchy import fcluster, linkage

    e = embeddings.astype(np.float64)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    z = linkage(e, method="average", metric="cosine")
    return np.asarray(fcluster(z, t=1.0 - model.same_speaker_segment, criterion="distance") - 1, dtype=np.int_)


def speaker_groups(embeddings: npt.NDArray[np.floating[Any]], model: VoiceModel) -> int:
    """How many voices the segments hold: groups with at least two segments and a quarter of them."""
    labels = speaker_labels(embeddings, model)
    if len(labels) == 0:
        return 0
    counts = np.bincount(labels)
    big = [c for c in counts if c >= 2 and c >= MIN_GROUP_SHARE * len(labels)]
    return max(1, len(big))


def build_voice(audios: Sequence[AudioTrack | None], encoder: VoiceEncoder,
                model: VoiceModel | None = None) -> VoiceEnrolment:
    """A voice profile from each enrolment file's sound (None: the file has none), and per file what it gave."""
    model = model or VoiceModel.load()
    cuts: list[SpeechCut | None] = [speech_segments(a) if a is not None else None for a in audios]
    segs, src = [], []
    for k, cut in enumerate(cuts):
        if cut is not None and cut.sound.kind == "speech":
            segs += [s.samples for s in cut.segments]
            src += [k] * len(cut.segments)
    segs, src = segs[:MAX_ENROL_SEGMENTS], src[:MAX_ENROL_SEGMENTS]
    notes = ["no sound" if c is None else
             (c.sound.reason if c.sound.kind != "speech" else f"{c.speech_s:.1f} s of speech") for c in cuts]
    if not segs:
        return VoiceEnrolment(None, tuple(notes), "no speech in the footage")
    emb = encoder.embed_many(segs)
    keep = np.ones(len(emb), bool)
    labels = speaker_labels(emb, model)
    if len(set(labels.tolist())) > 1:  # interviewers, voice-overs: keep the voice heard most, across the files
        main = int(np.bincount(labels).argmax())
        keep = labels == main
    speech_s = float(sum(len(s) for s, k in zip(segs, keep) if k) / RATE)
    dropped = int((~keep).sum())
    extra = f"; {dropped} segment{'s' if dropped != 1 else ''} in another voice left out" if dropped else ""
    if speech_s < MIN_ENROL_SPEECH_S:
        return VoiceEnrolment(None, tuple(notes), f"only {speech_s:.1f} s of the person's speech (a voice needs "
                                                  f"{MIN_ENROL_SPEECH_S:.0f} s){extra}")
    e = emb[keep].astype(np.float32)
    s = tuple(int(v) for v, k in zip(src, keep) if k)
    prof = VoiceProfile(e, s, speech_s, own_spread(e, s))
    return VoiceEnrolment(prof, tuple(notes), f"voice: {len(e)} segments, {speech_s:.1f} s of speech{extra}")


@dataclass(frozen=True)
class VoiceEnrolment:
    profile: VoiceProfile | None
    file_notes: tuple[str, ...]  # per enrolment file: seconds of speech, or why none
    line: str


#: why a voice was not compared; a report's feature ``voice_skip`` is the index in this tuple
VOICE_SKIPS = ("no_enrolled_voice", "still_image", "no_sound", "unreadable", "silence", "music", "little_speech",
               "several_speakers", "voice_over", "listener")
VoiceSkip = Literal["no_enrolled_voice", "still_image", "no_sound", "unreadable", "silence", "music", "little_speech",
                    "several_speakers", "voice_over", "listener"]


def skip_words(skip: str, speech_s: float = 0.0, speakers: int = 0, track_id: int | None = None) -> str:
    """Why the voice was not compared, in words (``skip`` from :data:`VOICE_SKIPS`)."""
    face = f"face {track_id}" if track_id is not None else "the face"
    return {
        "no_enrolled_voice": "the enrolment footage had too little of the person's speech for a voice profile",
        "still_image": "a still image has no sound",
        "no_sound": "the file has no sound",
        "unreadable": "the sound track cannot be read",
        "silence": "the sound track is silent",
        "music": "the sound is music or other continuous sound, not speech",
        "little_speech": f"too little speech: {speech_s:.1f} s, the voice check needs {MIN_CHECK_SPEECH_S:.0f} s",
        "several_speakers": f"more than one voice speaks ({speakers} speakers by their voices)",
        "voice_over": f"the speech is not from the visible face: {face}'s lips barely move while someone speaks "
                      "(a voice-over or narration)",
        "listener": f"the speech is not from the visible face: another face's mouth follows the voice and "
                    f"{face}'s does not",
    }.get(skip, skip)


@dataclass(frozen=True)
class VoiceCheck:
    """The voice check of one clip against one profile: ``skip`` is None when the voice was compared."""

    skip: VoiceSkip | None
    similarity: float = math.nan
    p_same: float = math.nan
    segments: int = 0
    speech_s: float = 0.0
    speakers: int = 0
    own_range: tuple[float, float] = (math.nan, math.nan)
    others_below: float = math.nan
    span: tuple[float, float] = (0.0, 0.0)  # first and last second of the speech checked (video clock)

    @property
    def checked(self) -> bool:
        return self.skip is None

    @property
    def matches(self) -> bool | None:
        """True (the person's voice), False (not), None (not compared)."""
        return None if self.skip is not None else self.p_same >= 0.5

    def reason(self, track_id: int | None = None) -> str:
        return "" if self.skip is None else skip_words(self.skip, self.speech_s, self.speakers, track_id)

    def features(self) -> dict[str, float]:
        """The numbers a report keeps (finite floats; a skipped check has ``voice_skip`` and what was measured)."""
        f = {"voice_checked": 0.0 if self.skip else 1.0, "voice_speech_s": float(self.speech_s),
             "voice_segments": float(self.segments), "voice_speakers": float(self.speakers)}
        if self.skip is not None:
            f["voice_skip"] = float(VOICE_SKIPS.index(self.skip))
        else:
            f.update(voice_p=self.p_same, voice_similarity=self.similarity, voice_own_low=self.own_range[0],
                     voice_own_high=self.own_range[1], voice_others_below=self.others_below)
        return f

    @classmethod
    def from_features(cls, f: Mapping[str, float]) -> VoiceCheck | None:
        """The check back from a report's features (None when the voice was not part of the check)."""
        if "voice_checked" not in f:
            return None
        common = dict(segments=int(f.get("voice_segments", 0)), speech_s=float(f.get("voice_speech_s", 0.0)),
                      speakers=int(f.get("voice_speakers", 0)))
        if f["voice_checked"] < 1.0:
            k = int(f.get("voice_skip", 0))
            return cls(VOICE_SKIPS[k] if 0 <= k < len(VOICE_SKIPS) else "unreadable", **common)  # type: ignore[arg-type]
        return cls(None, float(f["voice_similarity"]), float(f["voice_p"]),
                   own_range=(float(f["voice_own_low"]), float(f["voice_own_high"])),
                   others_below=float(f["voice_others_below"]), **common)  # type: ignore[arg-type]


def check_voice(audio: AudioTrack | None, profile: VoiceProfile, encoder: VoiceEncoder,
                model: VoiceModel) -> VoiceCheck:
    """The voice in ``audio`` against ``profile``; skipped with a reason where the sound cannot say."""
    if audio is None or len(audio.samples) == 0:
        return VoiceCheck("no_sound")
    cut = speech_segments(audio)
    if cut.sound.kind == "silence":
        return VoiceCheck("silence", speech_s=cut.speech_s)
    if cut.sound.kind == "music":
        return VoiceCheck("music", speech_s=cut.speech_s)
    if cut.speech_s < MIN_CHECK_SPEECH_S or not cut.segments:
        return VoiceCheck("little_speech", speech_s=cut.speech_s)
    emb = encoder.embed_many([s.samples for s in cut.segments])
    n = speaker_groups(emb, model)
    span = (cut.segments[0].start_s, cut.segments[-1].end_s)
    if n > 1:
        return VoiceCheck("several_speakers", segments=len(emb), speech_s=cut.speech_s, speakers=n, span=span)
    sim = voice_similarity(profile.embeddings, emb)
    return VoiceCheck(None, sim, model.p_same(sim), len(emb), cut.speech_s, 1, profile.spread, model.others_p95, span)


__all__ = ["MIN_CHECK_SPEECH_S", "MIN_ENROL_SPEECH_S", "VOICE_SKIPS", "VoiceCheck", "VoiceEnrolment", "VoiceModel",
           "VoiceProfile", "VoiceSkip", "build_voice", "check_voice", "own_spread", "skip_words", "speaker_groups",
           "speaker_labels", "voice_similarity"]
