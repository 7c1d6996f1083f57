"""Audio on the video clock, the speech envelope, and the silence / music / speech call."""

from __future__ import annotations

import numpy as np
import pytest

from unmask.media.audio import AudioTrack, read_audio
from unmask.media.speech import classify_sound, speech_envelope

RATE = 16000


def _speechy(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise bursts at a syllable rate with pauses between words: loudness like speech's."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    syll = 0.5 * (1 + np.sin(2 * np.pi * 4.0 * t)) ** 2
    words = (np.sin(2 * np.pi * 0.4 * t) > -0.2).astype(float)  # on ~60 % of the time, off between words
    return (0.3 * rng.normal(size=len(t)) * syll * words).astype(np.float32)


def _track(x: np.ndarray, start: float = 0.0) -> AudioTrack:
    return AudioTrack(x.astype(np.float32), RATE, start, "pcm")


def test_envelope_times_follow_the_track_start():
    env = speech_envelope(_track(_speechy(3.0), start=-0.5))
    assert env.times[0] == pytest.approx(-0.5 + 0.0125)
    assert len(env.db) == pytest.approx(300, abs=3)
    # loud at the syllable peaks, quiet between words
    assert np.ptp(env.smooth) > 20


@pytest.mark.parametrize("kind, make", [
    ("silence", lambda: np.zeros(3 * RATE, np.float32)),
    ("silence", lambda: (1e-5 * np.random.default_rng(1).normal(size=3 * RATE)).astype(np.float32)),
    ("music", lambda: (0.2 * np.sin(2 * np.pi * 440 * np.arange(3 * RATE) / RATE)).astype(np.float32)),
    ("music", lambda: (0.1 * np.random.default_rng(2).normal(size=3 * RATE)).astype(np.float32)),
    ("speech", lambda: _speechy(4.0)),
], ids=["digital-silence", "hiss", "steady-tone", "steady-noise", "speech-like"])
def test_sound_is_classified(kind, make):
    c = classify_sound(speech_envelope(_track(make())))
    assert c.kind == kind, c
    assert c.reason


def test_read_audio_of_a_clip_with_sound(tmp_path):
    from unmask.synth import face_frames, write_video

    p = write_video(tmp_path / "tone.mp4", face_frames(50, size=(160, 120)), fps=25.0, audio_hz=440.0)
    a = read_audio(p)
    assert a is not None and a.rate == RATE
    assert a.duration_s == pytest.approx(2.0, abs=0.15)
    assert abs(a.start_s) < 0.1  # on the video's clock
    part = read_audio(p, start_s=1.0, end_s=1.5)
    assert part is not None and part.start_s == pytest.approx(1.0, abs=0.02) and part.duration_s == pytest.approx(0.5, abs=0.02)


def test_read_audio_of_a_silent_clip_is_none(face_clip):
    assert read_audio(face_clip) is None
