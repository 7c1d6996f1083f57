"""Lip sync on synthetic signals: a known offset is recovered, unrelated sound is flagged, and what cannot be
judged (no sound, silence, music, a still mouth, listeners) is skipped or left alone."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import av
import numpy as np
import pytest

from unmask.analyzers.av_sync import AVSyncAnalyzer
from unmask.analyzers.sync_curve import (
    SyncCurve,
    corr_upper,
    mouth_signal,
    runs,
    sync_curve,
    sync_suspicion,
)
from unmask.faces.signals import SIGNAL_NAMES, TrackSignals
from unmask.media.speech import Envelope
from unmask.types import FaceObs, FaceTrack, MediaContext, MediaInfo, SampledFrame

FPS = 8.0


def _syllables(t: np.ndarray, seed: int) -> np.ndarray:
    """A smooth random 1-6 Hz signal: how wide a speaker's mouth opens over time."""
    rng = np.random.default_rng(seed)
    out = np.zeros_like(t)
    for f in rng.uniform(1.0, 6.0, 12):
        out += rng.normal() * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out


def _envelope(fn, seconds: float, lag: float = 0.0) -> Envelope:
    """An envelope (dB) whose loudness at time t follows the mouth at t - lag (the voice ``lag`` s behind)."""
    hop = 0.01
    tt = 0.0125 + hop * np.arange(int(seconds / hop))
    db = -30 + 6 * fn(tt - lag)
    return Envelope(db, db.copy(), np.ones(len(db), bool), 0.0, hop)


@pytest.mark.parametrize("lag", [0.0, 0.12, -0.2, 0.36])
def test_known_offset_is_recovered(lag):
    t = np.arange(0, 10, 1 / FPS)
    fn = lambda x: _syllables(x, 3)  # noqa: E731
    curve = sync_curve(t, fn(t), np.zeros(len(t), int), _envelope(fn, 10.5, lag))
    assert curve is not None
    best_lag, r = curve.best
    assert best_lag == pytest.approx(lag, abs=0.045)
    assert r > 0.9


def test_unrelated_sound_does_not_correlate():
    t = np.arange(0, 10, 1 / FPS)
    curve = sync_curve(t, _syllables(t, 1), np.zeros(len(t), int), _envelope(lambda x: _syllables(x, 2), 10.5))
    assert curve is not None and abs(curve.in_range[1]) < 0.4
    assert curve.z(curve.in_range[1]) < 2.5


def test_runs_split_at_gaps_and_bursts():
    t = np.r_[np.arange(0, 3, 0.125), np.arange(4, 5, 0.125), np.arange(5, 8, 0.125)]
    seg = np.r_[np.zeros(24 + 8, int), np.ones(24, int)]
    sl = runs(t, seg)
    assert [(round(t[s][0], 3), round(t[s][-1], 3)) for s in sl] == [(0.0, 2.875), (5.0, 7.875)]  # the 1 s piece is too short


def test_suspicion_rises_as_the_mouth_stops_following_the_voice():
    assert sync_suspicion(0.5, 0.5, 0.1) == 0.0
    assert sync_suspicion(-0.1, 0.0, 0.1) == 1.0
    assert 0.0 < sync_suspicion(0.15, 0.15, 0.1) < 1.0
    # the best match lies outside the natural range: an offset, whatever the in-range value
    assert sync_suspicion(0.05, 0.6, 0.45) >= 0.75
    # a short clip gets the benefit of the doubt
    assert sync_suspicion(0.1, 0.1, 0.1, n_eff=15) < sync_suspicion(0.1, 0.1, 0.1, n_eff=500)
    assert corr_upper(0.1, 15) > corr_upper(0.1, 500) > 0.1


def test_mouth_signal_rises_as_the_mouth_opens():
    n = 20
    vals = np.zeros((n, len(SIGNAL_NAMES)))
    opening = np.linspace(0, 1, n)
    vals[:, SIGNAL_NAMES.index("mouth_open")] = opening
    vals[:, SIGNAL_NAMES.index("jaw_drop")] = 5 + opening
    vals[:, SIGNAL_NAMES.index("lower_lip")] = -3 - opening
    sig = TrackSignals(1, np.arange(n) / FPS, np.arange(n), np.zeros(n, int), vals)
    m = mouth_signal(sig)
    assert np.all(np.diff(m) > 0)


# -- the analyzer, on a synthetic face whose lower lip and jaw move, and a sound file -------------------------------


def _talking_track(base: FaceObs, seconds: float, fn, tid: int = 1, still: bool = False) -> FaceTrack:
    lm0 = base.landmarks
    size = float(np.ptp(lm0[:, 1]))
    obs = []
    for k, t in enumerate(np.arange(0, seconds, 1 / FPS)):
        lm = lm0.copy()
        a = 0.0 if still else 0.02 * size * (1 + np.tanh(fn(t) / 2))
        for idx in (14, 17, 152, 87, 178, 317, 402):
            lm[idx, 1] += a
        obs.append(replace(base, frame_index=3 * k, t=float(t), landmarks=lm))
    return FaceTrack(tid, tuple(obs))


def _write_sound(path, seconds: float, loudness) -> str:
    """A mono WAV whose loudness follows ``loudness(t)`` (noise carrier, pauses where it is low)."""
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    amp = np.clip(loudness(t), 0, None)
    x = (0.3 * rng.normal(size=len(t)) * amp / max(amp.max(), 1e-9)).astype(np.float32)
    with av.open(str(path), "w") as out:
        st = out.add_stream("pcm_s16le", rate=rate)
        st.layout = "mono"
        for i in range(0, len(x), 1024):
            f = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[None, i:i + 1024]), format="flt", layout="mono")
            f.sample_rate = rate
            f.pts = i
            f.time_base = Fraction(1, rate)
            for p in st.encode(f):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return str(path)


def _ctx(path: str, *tracks: FaceTrack, has_audio: bool = True, kind: str = "video") -> MediaContext:
    end = max(t.end_t for t in tracks)
    info = MediaInfo(path, "0" * 64, 1, "wav", kind, "h264", end, 25.0, 512, 512, has_audio=has_audio)
    sampled = tuple(SampledFrame(o.frame_index, o.t, 0, len(tracks)) for o in tracks[0].observations)
    return MediaContext(info, (), sampled, tracks)


def _gated(fn):
    """Loudness that follows ``fn`` and drops to silence between 'words' (speech pauses)."""
    return lambda t: np.exp(0.8 * fn(t)) * (np.sin(2 * np.pi * 0.35 * t) > -0.3)


@pytest.fixture(scope="module")
def speech_fn():
    return lambda t: _syllables(np.asarray(t, float), 7)


def test_mouth_that_follows_the_voice_is_not_suspicious(astronaut_obs, speech_fn, tmp_path):
    track = _talking_track(astronaut_obs, 8.0, speech_fn)
    # the voice follows the mouth 0.1 s later, as in real speech
    wav = _write_sound(tmp_path / "own.wav", 9.0, _gated(lambda t: speech_fn(t - 0.1)))
    r = AVSyncAnalyzer().analyze(_ctx(wav, track))
    assert r.status == "ok", r.reason
    f = r.tracks[0].features
    assert f["corr"] > 0.3 and r.tracks[0].score < 0.3
    assert f["offset_s"] == pytest.approx(0.1, abs=0.09)


def test_mouth_against_someone_elses_voice_is_flagged(astronaut_obs, speech_fn, tmp_path):
    # 30 s of speech: on a few seconds, chance alone can make unrelated sound look in sync (hence the upper bound)
    track = _talking_track(astronaut_obs, 30.0, speech_fn)
    other = lambda t: _syllables(np.asarray(t, float), 99)  # noqa: E731
    wav = _write_sound(tmp_path / "dub.wav", 31.0, _gated(other))
    r = AVSyncAnalyzer().analyze(_ctx(wav, track))
    assert r.status == "ok", r.reason
    assert r.tracks[0].features["corr"] < 0.25
    assert r.tracks[0].score > 0.5
    assert any(e.cue in ("av_mismatch", "av_offset") for e in r.evidence)


def test_a_listener_is_not_judged_when_someone_else_speaks(astronaut_obs, speech_fn, tmp_path):
    speaker = _talking_track(astronaut_obs, 8.0, speech_fn, tid=1)
    listener = _talking_track(astronaut_obs, 8.0, lambda t: _syllables(np.asarray(t, float), 50), tid=2)
    wav = _write_sound(tmp_path / "own.wav", 9.0, _gated(lambda t: speech_fn(t - 0.1)))
    r = AVSyncAnalyzer().analyze(_ctx(wav, speaker, listener))
    assert r.status == "ok"
    lst = r.for_track(2)
    assert lst is not None and lst.features["listener"] == 1.0 and lst.score == 0.0


@pytest.mark.parametrize("case, reason", [
    ("no_audio", "no sound track"),
    ("still", "only videos"),
    ("silence", "silent"),
    ("steady", "continuous"),
    ("still_mouth", "voice-over"),
], ids=["no-sound-track", "still-image", "silence", "music", "voice-over"])
def test_what_cannot_be_judged_is_skipped(astronaut_obs, speech_fn, tmp_path, case, reason):
    track = _talking_track(astronaut_obs, 8.0, speech_fn, still=case == "still_mouth")
    loud = {"silence": lambda t: 0 * t, "steady": lambda t: 1 + 0 * t}.get(case, _gated(speech_fn))
    wav = _write_sound(tmp_path / f"{case}.wav", 9.0, loud)
    ctx = _ctx(wav, track, has_audio=case != "no_audio", kind="image" if case == "still" else "video")
    r = AVSyncAnalyzer().analyze(ctx)
    assert r.status == "skipped"
    assert reason in r.reason, r.reason


def test_sync_curve_needs_sound_under_the_face():
    t = np.arange(0, 4, 1 / FPS)
    env = Envelope(np.zeros(0), np.zeros(0), np.zeros(0, bool), 0.0, 0.01)
    assert sync_curve(t, np.sin(t), np.zeros(len(t), int), env) is None
    c = SyncCurve(np.array([0.0]), np.array([np.nan]), 10.0, 0.0)
    assert np.isnan(c.best[1])


def test_speaker_check_says_who_speaks(astronaut_obs, speech_fn, tmp_path):
    """The voice check's lip test: the speaker speaks, a listener listens, still lips are a voice-over."""
    from unmask.media.audio import read_audio
    from unmask.media.speech import speech_envelope

    speaker = _talking_track(astronaut_obs, 8.0, speech_fn, tid=1)
    listener = _talking_track(astronaut_obs, 8.0, lambda t: _syllables(np.asarray(t, float), 50), tid=2)
    still = _talking_track(astronaut_obs, 8.0, speech_fn, tid=3, still=True)
    audio = read_audio(_write_sound(tmp_path / "own.wav", 9.0, _gated(lambda t: speech_fn(t - 0.1))))
    assert audio is not None
    env = speech_envelope(audio)
    a = AVSyncAnalyzer()
    assert a.speaker_check([speaker, listener], 1, env) == "speaks"
    assert a.speaker_check([speaker, listener], 2, env) == "listener"
    assert a.speaker_check([still], 3, env) == "voice_over"
    assert a.speaker_check([speaker], 9, env) == "unknown"


def test_reference_voice_check_skips_speech_that_is_not_the_faces(astronaut_obs, speech_fn, tmp_path):
    """With a claim, a voice under still lips is not compared: the report says why instead."""
    from unmask.analyzers.reference import ReferenceAnalyzer
    from unmask.reference.voice import VoiceModel, VoiceProfile

    class Fake:
        def load(self) -> None: ...

        def embed_many(self, wavs):
            e = np.zeros((len(wavs), 256), np.float32)
            e[:, 0] = 1.0
            return e

    voice = VoiceProfile(Fake().embed_many([0, 0, 0]), (0, 0, 0), 9.0, (0.8, 0.9))
    profile = type("P", (), {"voice": voice, "name": "Ann"})()
    wav = _write_sound(tmp_path / "own.wav", 9.0, _gated(lambda t: speech_fn(t - 0.1)))
    ref = ReferenceAnalyzer(profile, voice_encoder=Fake(), voice_model=VoiceModel(20.0, -14.0, 0.66, 0.75))  # type: ignore[arg-type]
    talking = _talking_track(astronaut_obs, 8.0, speech_fn)
    ok = ref.check_voice(_ctx(wav, talking), talking)
    assert ok.skip is None and ok.matches is True
    still = _talking_track(astronaut_obs, 8.0, speech_fn, still=True)
    vo = ref.check_voice(_ctx(wav, still), still)
    assert vo.skip == "voice_over" and "not from the visible face" in vo.reason(1)
    assert ref.check_voice(_ctx(wav, talking, has_audio=False), talking).skip == "no_sound"
