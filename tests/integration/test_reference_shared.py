"""Reference mode and lip sync on development media (skipped with a reason when ../shared/data is absent)."""

from __future__ import annotations

import jsonschema
import pytest
from conftest import SHARED_DATA, needs_shared_data

from unmask.report.build import load_schema

pytestmark = [needs_shared_data, pytest.mark.shared_data]

SCHEMA = load_schema()
OBAMA = ["media/real/deepfacelive/Obama.mp4", "media/real/face_recognition/obama.jpg"]


def _need(*rels: str) -> list:
    paths = [SHARED_DATA / r for r in rels]
    missing = [r for r, p in zip(rels, paths) if not p.exists()]
    if missing:
        pytest.skip(f"not in this copy of the development data: {missing}")
    return paths


@pytest.fixture(scope="module")
def obama():
    from unmask.reference.enroll import Enroller

    return Enroller().enroll("Barack Obama", _need(*OBAMA))


def test_enrolment_reports_what_it_got(obama):
    p = obama.profile
    assert p.n_embeddings >= 8 and p.n_windows >= 3
    assert any("Obama.mp4: 8.0 s of the face" in line for line in obama.lines)
    assert any("obama.jpg: photo, 1 face image" in line for line in obama.lines)


def test_same_person_and_a_face_swap(obama):
    from unmask.pipeline import Scanner

    scanner = Scanner(claims=obama.profile)
    same = scanner.scan(_need("media/real/deepfacelive/Obama_speaking.mp4")[0])
    jsonschema.validate(same.data, SCHEMA)
    ref = same.data["reference"]
    assert ref["claimed"] == "Barack Obama" and ref["identity"]["score"] >= 0.5
    assert ref["conclusion"] in ("consistent", "mannerisms_unclear", "impersonator")
    assert "Claimed to be Barack Obama" in same.summary
    other = scanner.scan(_need("media/real/hdtf/WDA_AlexandriaOcasioCortez_000.mp4")[0])
    jsonschema.validate(other.data, SCHEMA)
    assert other.data["reference"]["conclusion"] == "not_this_person"
    assert "by itself does not make the video fake" in other.data["reference"]["statement"]
    assert other.data["verdict"]["label"] == other.data["verdict"]["fusion_label"]  # a different face is no fake


@pytest.mark.parametrize("rel, status, words", [
    ("media/real/wav2lip_gfpgan/kim_7s_raw.mp4", "ok", None),
    ("media/real/ghost/dirtydancing.mp4", "skipped", "continuous"),
    ("media/real/ffpp/004.mp4", "skipped", "no sound track"),
], ids=["speech", "music", "no-sound"])
def test_lip_sync_on_real_clips(scanner, rel, status, words):
    r = scanner.scan(_need(rel)[0])
    jsonschema.validate(r.data, SCHEMA)
    av = next(a for a in r.data["analyzers"] if a["name"] == "av_sync")
    assert av["status"] == status, av["reason"]
    if words:
        assert words in av["reason"]
    assert not r.data["verdict"]["rules"]  # no real clip here is pushed by a rule


@pytest.fixture(scope="module")
def obama_voice():
    from unmask.reference.enroll import Enroller

    return Enroller().enroll("Barack Obama", _need("media/real/lia/obama.mov"))


def test_voice_is_enrolled_checked_and_a_dub_is_caught(obama_voice, scanner, tmp_path):
    """Obama's own voice matches; Obama's video with a BBC speaker's voice laid under it is a voice mismatch."""
    from unmask.media.audio import read_audio
    from unmask.synth import write_dub

    p = obama_voice.profile
    assert p.voice is not None and p.voice.speech_s >= 20 and any(ln.startswith("voice: ") for ln in obama_voice.lines)
    own = scanner.scan(_need("media/real/edtalk/uncrop_Obama.mp4")[0], claims=p)  # the session's models, this claim
    jsonschema.validate(own.data, SCHEMA)
    v = own.data["reference"]["voice"]
    assert v["checked"] and v["score"] >= 0.5, v
    assert "The voice matches Barack Obama's too" in own.data["reference"]["statement"]
    assert "voice_mismatch" not in [r["rule"] for r in own.data["verdict"]["rules"]]
    video, voice = _need("media/real/ghost/obama_short.mp4", "media/real/deep_avsr/00016.mp4")
    audio = read_audio(voice)
    assert audio is not None
    dub = scanner.scan(write_dub(video, audio.samples, tmp_path / "dub.mp4"), claims=p)
    jsonschema.validate(dub.data, SCHEMA)
    ref = dub.data["reference"]
    assert ref["conclusion"] == "voice_mismatch" and ref["voice"]["score"] < 0.5, ref
    assert "but the voice does not" in ref["statement"] and "Claimed to be Barack Obama" in dub.summary
    # the voice rule: never likely_real, and never likely_fake by itself
    hit = next(r for r in dub.data["verdict"]["rules"] if r["rule"] == "voice_mismatch")
    assert hit["to_label"] == ("inconclusive" if hit["from_label"] == "likely_real" else hit["from_label"]), hit
    assert dub.data["verdict"]["label"] != "likely_real" and "the voice is not Barack Obama's" in hit["detail"]
