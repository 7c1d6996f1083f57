"""A long clip of one person is one face, examined over its whole length (real models, synthetic clip).

The clip is short, but the sampling is scaled down so that it is read the way a long video is:
bursts spread over the whole clip, one track per burst, linked into one person by dlib embeddings.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from unmask.config import ScanConfig
from unmask.pipeline import Scanner
from unmask.report.build import load_schema
from unmask.report.text import format_report

LONG = {"sampling.full_decode_max_s": 3.0, "sampling.burst_s": 0.75, "sampling.burst_every_s": 2.0}


@pytest.fixture(scope="module")
def one_person_report(tmp_path_factory: pytest.TempPathFactory):
    from unmask.synth import write_face_clip

    clip = write_face_clip(tmp_path_factory.mktemp("one") / "one-person.mp4", seconds=10.0)
    scanner = Scanner(ScanConfig().with_overrides(LONG))
    return scanner.scan(clip)


def test_one_person_read_in_bursts_is_one_face(one_person_report) -> None:
    d = json.loads(one_person_report.to_json())
    jsonschema.validate(d, load_schema())
    assert d["sampling"]["segments"] >= 5
    assert len(d["faces"]) >= 5  # one track per burst ...
    assert len(d["persons"]) == 1  # ... one person
    person = d["persons"][0]
    assert person["id"] == 1 and len(person["spans"]) == len(d["faces"])
    assert {f["person_id"] for f in d["faces"]} == {1}
    v = d["verdict"]
    if v["track_id"] is not None:
        assert v["person_id"] == 1
        assert f"seen in {len(person['spans'])} stretches" in v["summary"]
        # the timeline follows the person through every burst, not one stretch of it
        seconds = {int(p["t"]) for p in d["timeline"]}
        assert max(seconds) - min(seconds) >= 6
    for e in d["evidence"]:
        assert e["person_id"] in (None, 1)
        assert "Face 2" not in e["detail"] and "face 2" not in e["detail"]


def test_the_cli_says_how_much_was_examined(one_person_report) -> None:
    d = one_person_report.data
    smp = d["sampling"]
    assert 0 < smp["coverage"] < 1 and smp["examined_s"] == pytest.approx(smp["coverage"] * d["input"]["duration_s"], abs=0.01)
    text = format_report(one_person_report, name=Path("one-person.mp4").name)
    assert f"in {smp['segments']} bursts spread over the whole video" in text
