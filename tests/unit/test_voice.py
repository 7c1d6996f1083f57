"""Voice in reference mode: mel features, the shipped speaker encoder, speech segments, the check and its words.

The equality tests against librosa and resemblyzer skip when those are not installed (CI has neither; the
scan needs neither)."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from unmask.errors import ModelError
from unmask.media.audio import AudioTrack
from unmask.reference.profile import FootageItem, PersonProfile
from unmask.reference.voice import (
    VOICE_SKIPS,
    VoiceCheck,
    VoiceModel,
    VoiceProfile,
    build_voice,
    check_voice,
    own_spread,
    speaker_groups,
    voice_similarity,
)
from unmask.voice.encoder import VoiceEncoder, partial_starts
from unmask.voice.mel import mel_filters, mel_spectrogram
from unmask.voice.segments import speech_segments

RATE = 16000


def _speechy(seconds: float, seed: int = 0, pitch: float = 140.0) -> np.ndarray:
    """Voiced bursts (harmonics of ``pitch``) of 0.3-0.6 s with pauses between: speech to the detector."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.zeros(n, np.float32)
    t = 0
    while t < n:
        on = int(rng.uniform(0.3, 0.6) * RATE)
        tt = np.arange(min(on, n - t)) / RATE
        burst = sum(np.sin(2 * np.pi * pitch * k * tt) / k for k in range(1, 8)) * np.hanning(len(tt))
        x[t:t + len(tt)] = 0.2 * burst
        t += on + int(rng.uniform(0.15, 0.3) * RATE)
    return x + 0.001 * rng.standard_normal(n).astype(np.float32)


def _track(x: np.ndarray) -> AudioTrack:
    return AudioTrack(x.astype(np.float32), RATE, 0.0, "pcm")


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


class FakeEncoder:
    """Stands in for the ONNX encoder: one fixed embedding per segment, from a list."""

    def __init__(self, embs: np.ndarray) -> None:
        self.embs = embs

    def embed_many(self, wavs):
        return self.embs[:len(wavs)]


MODEL = VoiceModel(coef=20.0, intercept=-14.0, others_p95=0.66, same_speaker_segment=0.75)


def test_mel_matches_librosa():
    librosa = pytest.importorskip("librosa", reason="librosa not installed (only this equality test needs it)")
    rng = np.random.default_rng(0)
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(RATE) / RATE) + 0.05 * rng.standard_normal(RATE)).astype(np.float32)
    ref = librosa.feature.melspectrogram(y=x, sr=RATE, n_fft=400, hop_length=160, n_mels=40).astype(np.float32).T
    np.testing.assert_allclose(mel_filters(), librosa.filters.mel(sr=RATE, n_fft=400, n_mels=40), atol=1e-7)
    np.testing.assert_allclose(mel_spectrogram(x), ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_mel_puts_a_tone_in_its_band():
    x = np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE).astype(np.float32)
    m = mel_spectrogram(x)
    assert m.shape == (101, 40) and m.dtype == np.float32
    centre = np.argmax(mel_filters()[:, round(440 / 40)])
    assert abs(int(np.argmax(m[50])) - int(centre)) <= 1


@pytest.mark.parametrize("n", [8000, 16000 * 3, 16000 * 3 + 777, 25600, 160000])
def test_partial_windows_follow_resemblyzer(n):
    pytest.importorskip("torch", reason="torch not installed")
    ve = pytest.importorskip("resemblyzer.voice_encoder", reason="resemblyzer not installed")
    _, mel_slices = ve.VoiceEncoder.compute_partial_slices(n, 1.3, 0.75)
    assert partial_starts(n) == [s.start for s in mel_slices]


def test_partial_windows_without_resemblyzer():
    """The same windows as resemblyzer's compute_partial_slices (checked above where it is installed)."""
    assert partial_starts(8000) == [0]
    assert partial_starts(48000) == [0, 77, 154]


def test_onnx_encoder_matches_resemblyzer():
    pytest.importorskip("torch", reason="torch not installed (only the export and this check need it)")
    rz = pytest.importorskip("resemblyzer", reason="resemblyzer not installed")
    x = _speechy(4.0, seed=3)
    ref = rz.VoiceEncoder(device="cpu", verbose=False).embed_utterance(x)
    got = VoiceEncoder().embed_many([x])[0]
    assert float(ref @ got) > 0.9999


def test_encoder_refuses_weights_that_do_not_match_their_manifest(tmp_path):
    enc = VoiceEncoder()
    onnx = tmp_path / "voice_encoder.onnx"
    shutil.copy(enc.onnx_path, onnx)
    m = json.loads(enc.manifest_path.read_text())
    m["sha256"] = "0" * 64
    (tmp_path / "voice_encoder.json").write_text(json.dumps(m))
    with pytest.raises(ModelError, match="do not match their manifest"):
        VoiceEncoder(onnx).load()
    with pytest.raises(ModelError, match="not found"):
        VoiceEncoder(tmp_path / "missing.onnx").load()


def test_shipped_encoder_embeds_one_voice_alike():
    enc = VoiceEncoder()
    a, b = enc.embed_many([_speechy(3.0, 1), _speechy(3.0, 2)])
    c = enc.embed_many([_speechy(3.0, 1, pitch=260.0)])[0]
    assert a.shape == (256,) and abs(float(np.linalg.norm(a)) - 1) < 1e-5
    assert float(a @ b) > float(a @ c)


def test_speech_is_cut_into_segments_and_silence_is_not():
    cut = speech_segments(_track(_speechy(12.0)))
    assert cut.sound.kind == "speech" and len(cut.segments) >= 2
    assert all(1.6 <= s.speech_s <= 3.0 + 1e-6 for s in cut.segments)
    assert cut.segments[0].start_s < cut.segments[-1].end_s <= 12.0
    quiet = speech_segments(_track(np.zeros(RATE * 4, np.float32)))
    assert quiet.sound.kind == "silence" and not quiet.segments


def test_similarity_spread_and_speaker_groups():
    rng = np.random.default_rng(0)
    a = _unit(rng.normal(size=256))
    b = _unit(rng.normal(size=256))
    one = _unit(a + 0.25 * rng.normal(size=(6, 256)) / 16)
    two = _unit(b + 0.25 * rng.normal(size=(4, 256)) / 16)
    assert voice_similarity(one[:3], one[3:]) > 0.9 > 0.2 > voice_similarity(one, two)
    lo, hi = own_spread(one, (0, 0, 0, 1, 1, 1))
    assert 0.8 < lo <= hi <= 1.0
    assert speaker_groups(one, MODEL) == 1
    assert speaker_groups(np.concatenate([one, two]), MODEL) == 2
    assert speaker_groups(np.concatenate([one, two[:1]]), MODEL) == 1  # one stray segment is not a voice


@pytest.mark.parametrize("audio, embs, skip", [
    (None, None, "no_sound"),
    (np.zeros(RATE * 5, np.float32), None, "silence"),
    (_speechy(2.0), None, "little_speech"),
    (_speechy(20.0), "two", "several_speakers"),
], ids=["no-sound", "silence", "too-little-speech", "two-voices"])
def test_check_skips_with_the_reason(audio, embs, skip):
    rng = np.random.default_rng(1)
    a, b = _unit(rng.normal(size=256)), _unit(rng.normal(size=256))
    e = np.stack([a, a, a, b, b, b, b, b]) if embs == "two" else np.stack([a] * 8)
    prof = VoiceProfile(np.stack([a] * 3), (0, 0, 0), 9.0, (0.8, 0.9))
    vc = check_voice(None if audio is None else _track(audio), prof, FakeEncoder(e), MODEL)  # type: ignore[arg-type]
    assert vc.skip == skip and vc.matches is None and vc.reason(3)
    back = VoiceCheck.from_features(vc.features())
    assert back is not None and back.skip == skip and back.speakers == vc.speakers


def test_check_compares_one_voice_and_round_trips_through_features():
    rng = np.random.default_rng(2)
    a, b = _unit(rng.normal(size=256)), _unit(rng.normal(size=256))
    prof = VoiceProfile(np.stack([a] * 4), (0, 0, 1, 1), 12.0, (0.8, 0.9))
    audio = _track(_speechy(10.0))
    same = check_voice(audio, prof, FakeEncoder(np.stack([a] * 5)), MODEL)  # type: ignore[arg-type]
    other = check_voice(audio, prof, FakeEncoder(np.stack([b] * 5)), MODEL)  # type: ignore[arg-type]
    assert same.matches is True and other.matches is False
    back = VoiceCheck.from_features(other.features())
    assert back is not None and back.matches is False and math.isclose(back.similarity, other.similarity)
    assert set(VOICE_SKIPS) >= {"voice_over", "listener", "music", "no_enrolled_voice"}


def test_enrolment_keeps_the_voice_heard_most():
    rng = np.random.default_rng(3)
    a, b = _unit(rng.normal(size=256)), _unit(rng.normal(size=256))
    audio = _track(_speechy(40.0))
    n = len(speech_segments(audio).segments)
    embs = np.stack([a] * (n - 2) + [b] * 2)
    got = build_voice([audio, None], FakeEncoder(embs), MODEL)  # type: ignore[arg-type]
    assert got.profile is not None and got.profile.n_segments == n - 2
    assert "in another voice left out" in got.line and got.file_notes[1] == "no sound"
    assert build_voice([None], FakeEncoder(embs), MODEL).profile is None  # type: ignore[arg-type]


def test_profile_keeps_its_voice_and_reads_format_1():
    rng = np.random.default_rng(4)
    voice = VoiceProfile(_unit(rng.normal(size=(3, 256))), (0, 0, 0), 9.5, (0.81, 0.9))
    p = PersonProfile("Ann", rng.normal(size=(6, 128)).astype(np.float32), rng.normal(size=(3, 66)).astype(np.float32),
                      {"window_s": 4.0}, (FootageItem("a.mp4", "ab" * 32, "video", 8.0, 8.0, 6, 3),), voice=voice)
    back = PersonProfile.from_bytes(p.to_bytes())
    assert back.voice is not None and np.array_equal(back.voice.embeddings, voice.embeddings)
    assert back.voice.spread == (0.81, 0.9) and back.summary()["voice_seconds"] == 9.5
    d = json.loads(p.to_bytes())
    d["format_version"] = 1
    del d["voice"]
    old = PersonProfile.from_bytes(json.dumps(d).encode())
    assert old.voice is None and old.summary()["voice_seconds"] == 0.0
