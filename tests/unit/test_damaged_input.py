"""A file where part of the stream could not be decoded never gets a confident verdict (issue 13, §2).

Damaged files are made here from synthetic clips: cut off at 30 % and 60 % (a "faststart" MP4 keeps
its index at the front, so the start still opens; a Matroska file needs no index), and overwritten
with noise in the middle. The reader measures how much of the video it decoded
(``FrameReader.coverage``); the ``damaged_input`` rule caps the label at ``inconclusive``, or makes
it ``cannot_assess`` under half, and the summary says why in seconds.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import numpy as np
import pytest

from unmask import synth
from unmask.config import SamplingConfig, ScanConfig
from unmask.fusion import FusionModel, TrackVerdict, Verdict
from unmask.media.decode import FrameReader
from unmask.media.probe import probe
from unmask.report.build import load_schema
from unmask.report.html import render_html
from unmask.report.rescore import rescore_saved
from unmask.report.text import format_report
from unmask.rules import DAMAGE_RULE, cap_for_damage, decoded_words
from unmask.types import DecodeCoverage

S = SamplingConfig()
SCHEMA = load_schema()


def _frames(n: int = 100) -> list[np.ndarray]:
    return synth.face_frames(n, (160, 120))


def _read(path: Path) -> FrameReader:
    reader = FrameReader(probe(path, S), S)
    list(reader)
    return reader


# -- the rule ---------------------------------------------------------------------------------


def _verdict(label: str, score: float | None = 0.1) -> Verdict:
    return Verdict(label, score, 0.27, 0.87, 1 if score is not None else None, (),  # type: ignore[arg-type]
                   (TrackVerdict(1, True, None, score, {}),), {"blinks": 0.4} if score is not None else {})


@pytest.mark.parametrize("label", ["likely_real", "likely_fake", "inconclusive"])
def test_a_damaged_file_is_capped_at_inconclusive(label: str) -> None:
    cov = DecodeCoverage(10.0, 9.2, True, ("skipped 3 damaged packet(s) (Invalid data)",))
    v, hit = cap_for_damage(_verdict(label), cov, 10.0)
    assert v.label == "inconclusive" and v.score == 0.1 and hit is not None
    assert (hit.rule, hit.from_label, hit.to_label) == (DAMAGE_RULE, label, "inconclusive")
    assert "9.2 of 10.0 s could be decoded" in hit.detail and "skipped 3 damaged packet(s)" in hit.detail


@pytest.mark.parametrize("label", ["likely_real", "likely_fake", "inconclusive", "no_face", "cannot_assess"])
def test_less_than_half_decoded_cannot_be_assessed(label: str) -> None:
    cov = DecodeCoverage(10.0, 3.1, True, ("decoding stopped at 3.0 s of 10.0 s: the file looks truncated",))
    v, hit = cap_for_damage(_verdict(label, None if label in ("no_face", "cannot_assess") else 0.9), cov, 10.0)
    assert v.label == "cannot_assess" and v.score is None and v.track_id is None and hit is not None
    assert v.reasons[0] == "the file is damaged: only 3.1 of 10.0 s could be decoded"
    assert "only 3.1 of 10.0 s could be decoded" in hit.detail and "less than half" in hit.detail


def test_a_clean_file_is_left_alone() -> None:
    v = _verdict("likely_real")
    assert cap_for_damage(v, DecodeCoverage(10.0, 10.0), 10.0) == (v, None)
    assert cap_for_damage(v, None, 10.0) == (v, None)


def test_bursts_say_what_was_sampled() -> None:
    assert decoded_words(DecodeCoverage(40.0, 12.5, True), 600.0) == \
        "only 12.5 of the 40.0 s sampled from this 600.0 s video could be decoded"
    assert decoded_words(DecodeCoverage(10.0, 10.0, True), 10.0) == "10.0 of 10.0 s could be decoded"


def test_rescoring_a_saved_report_keeps_the_cap() -> None:
    model = FusionModel("t", (), (), (), (), 0.0, 0.6, 0.9)  # scores 0.5: likely_real
    report = {"input": {"kind": "video"}, "faces": [{"id": 1, "assessable": True, "score": 0.5}], "analyzers": [],
              "verdict": {"label": "inconclusive", "score": 0.5, "track_id": 1, "rules": [
                  {"rule": DAMAGE_RULE, "from_label": "likely_real", "to_label": "inconclusive"}]}}
    assert rescore_saved(report, model)["verdict"]["label"] == "inconclusive"
    report["verdict"]["rules"] = []
    assert rescore_saved(report, model)["verdict"]["label"] == "likely_real"
    gone = {**report, "verdict": {"label": "cannot_assess", "score": None, "track_id": None, "rules": [
        {"rule": DAMAGE_RULE, "from_label": "likely_real", "to_label": "cannot_assess"}]}}
    assert rescore_saved(gone, model)["verdict"]["label"] == "cannot_assess"


# -- what the reader measures -----------------------------------------------------------------


def test_a_whole_file_is_whole(tmp_path: Path) -> None:
    for suffix in (".mp4", ".mkv"):
        cov = _read(synth.write_video(tmp_path / f"whole{suffix}", _frames(), gop=25)).coverage
        assert not cov.damaged and cov.fraction == pytest.approx(1.0) and cov.planned_s == pytest.approx(4.0)


@pytest.mark.parametrize("suffix, faststart", [(".mp4", True), (".mkv", False), (".avi", False)])
@pytest.mark.parametrize("keep", [0.3, 0.6])
def test_a_cut_off_file_is_damaged_and_measured(tmp_path: Path, suffix: str, faststart: bool, keep: float) -> None:
    full = synth.write_video(tmp_path / f"full{suffix}", _frames(), gop=25, faststart=faststart)
    reader = _read(synth.truncate(full, tmp_path / f"cut{suffix}", keep))
    cov = reader.coverage
    assert cov.damaged and cov.planned_s == pytest.approx(4.0)
    assert cov.fraction == pytest.approx(keep, abs=0.12)
    assert any("truncated" in p for p in cov.problems), cov.problems


def test_decoding_resumes_after_a_damaged_stretch(tmp_path: Path) -> None:
    """MP4: damaged packets are skipped and decoding goes on; Matroska: the demuxer resyncs, the hole is measured."""
    mp4 = synth.corrupt(synth.write_video(tmp_path / "a.mp4", _frames(), gop=25), tmp_path / "bad.mp4", 0.45, 0.6)
    reader = _read(mp4)
    assert reader.coverage.damaged and any("damaged packet" in p for p in reader.coverage.problems)
    assert max(s.t for s in reader.stats) > 3.5  # pictures after the damage were decoded
    mkv = synth.corrupt(synth.write_video(tmp_path / "a.mkv", _frames(), gop=25), tmp_path / "bad.mkv", 0.45, 0.65)
    reader = _read(mkv)
    cov = reader.coverage
    assert cov.damaged and 0.5 < cov.fraction < 0.95
    assert max(s.t for s in reader.stats) > 3.5
    assert any("no picture could be decoded between" in w for w in reader.warnings), reader.warnings


def test_regular_long_frames_are_not_damage(tmp_path: Path) -> None:
    """A slide show (one frame a second) and a clip with a real pause keep their full coverage."""
    slides = synth.write_video(tmp_path / "slides.mp4", _frames(6), fps=1)
    cov = _read(slides).coverage
    assert not cov.damaged and cov.fraction == pytest.approx(1.0)
    times = [i * 0.04 for i in range(50)] + [2.0 + 1.5 + i * 0.04 for i in range(50)]  # VFR: a 1.5 s still
    jerky = synth.write_video(tmp_path / "pause.mp4", _frames(100), pts_s=times)
    assert _read(jerky).coverage.fraction > 0.0  # measured; damage is only called on a regular stream


# -- the whole scan ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sure_scanner():
    """A scanner whose fusion calls every face likely real (no features: score 0.5 under a 0.6 threshold)."""
    from unmask.pipeline import Scanner

    return Scanner(ScanConfig.load(overrides={"sampling.fps": 4}), fusion=FusionModel("t", (), (), (), (), 0.0, 0.6, 0.9))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a keyframe every 10 frames spreads the bytes evenly over time: cut at 60 % keeps 2.4 s, at 30 % 1.2 s
    return synth.write_video(tmp_path_factory.mktemp("damaged") / "face.mp4", synth.face_frames(100, (480, 360)),
                             faststart=True, gop=10)


def test_scan_of_the_whole_clip_is_confident(sure_scanner, clip: Path) -> None:
    r = sure_scanner.scan(clip)
    assert r.label == "likely_real" and not r.data["sampling"]["damaged"] and r.data["verdict"]["rules"] == []


def test_scan_of_a_clip_cut_at_60_percent_is_inconclusive(sure_scanner, clip: Path, tmp_path: Path) -> None:
    r = sure_scanner.scan(synth.truncate(clip, tmp_path / "cut60.mp4", 0.6))
    jsonschema.validate(r.data, SCHEMA)
    d, v = r.data, r.data["verdict"]
    assert r.label == "inconclusive" and v["fusion_label"] == "likely_real" and r.score == pytest.approx(0.5)
    assert d["sampling"]["damaged"] and d["sampling"]["decoded_s"] < d["sampling"]["planned_s"] == pytest.approx(4.0)
    assert v["summary"].startswith("Inconclusive: The file is damaged: only 2.")
    assert "of 4.0 s could be decoded" in v["summary"] and "On the part that could be decoded: Likely real" in v["summary"]
    assert [(x["rule"], x["from_label"], x["to_label"]) for x in v["rules"]] == [(DAMAGE_RULE, "likely_real", "inconclusive")]
    text = format_report(r)
    assert text.splitlines()[0] == "cut60.mp4: INCONCLUSIVE  score 0.50"
    assert 'changed "likely real" to "inconclusive"' in text
    html = render_html(r)
    assert "Part of the file could not be decoded" in html and "None of the cues" not in html
    assert "the file is damaged, so the label is capped" in html


def test_scan_of_a_clip_cut_at_30_percent_cannot_be_assessed(sure_scanner, clip: Path, tmp_path: Path) -> None:
    r = sure_scanner.scan(synth.truncate(clip, tmp_path / "cut30.mp4", 0.3))
    jsonschema.validate(r.data, SCHEMA)
    v = r.data["verdict"]
    assert r.label == "cannot_assess" and r.score is None and v["fusion_label"] in ("likely_real", "cannot_assess")
    assert v["summary"].startswith("Cannot assess: The file is damaged: only 1.") and "less than half" in v["summary"]
    assert v["reasons"][0].startswith("the file is damaged: only 1.") and v["reasons"][0].endswith("of 4.0 s could be decoded")
    html = render_html(r)
    assert "Why no verdict" in html and "could be decoded" in html


def test_scan_of_a_clip_damaged_in_the_middle_is_inconclusive(sure_scanner, clip: Path, tmp_path: Path) -> None:
    r = sure_scanner.scan(synth.corrupt(clip, tmp_path / "middle.mp4", 0.45, 0.55))
    jsonschema.validate(r.data, SCHEMA)
    assert r.label == "inconclusive" and r.data["sampling"]["damaged"]
    assert r.data["verdict"]["summary"].startswith("Inconclusive: The file is damaged: ")
