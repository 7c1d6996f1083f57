"""The whole pipeline on synthesized inputs: schema, determinism, stills, the CLI and the bench."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import jsonschema
import pytest

from unmask.cli import main
from unmask.report.build import load_schema

SCHEMA = load_schema()


def _strip_timings(d):
    d = json.loads(json.dumps(d))
    d.pop("timings")
    return d


@pytest.fixture(scope="module")
def clip_report(scanner, face_clip):
    return scanner.scan(face_clip)


def test_report_validates_against_schema(clip_report):
    jsonschema.validate(clip_report.data, SCHEMA)
    d = clip_report.data
    assert d["input"]["sha256"] and d["input"]["container"] == "mp4" and d["input"]["width"] == 640
    assert d["verdict"]["label"] in ("likely_real", "inconclusive", "likely_fake")
    assert len(d["faces"]) == 1 and d["faces"][0]["assessable"]
    assert {a["name"] for a in d["analyzers"]} == {"blend_boundary", "head_pose", "temporal", "glitches", "blinks", "blend_cnn", "av_sync",
                                                     "animation"}
    assert d["reference"] is None and d["verdict"]["rules"] == [] and d["verdict"]["fusion_label"] == d["verdict"]["label"]
    assert all(a["status"] != "error" for a in d["analyzers"]), [a["reason"] for a in d["analyzers"]]
    assert d["timings"]["total_s"] > 0 and d["timeline"]
    # every score comes with the evidence behind it: findings, or the measurements that moved the score
    assert d["verdict"]["drivers"] or d["evidence"]
    for dr in d["verdict"]["drivers"]:
        assert dr["detail"].startswith(dr["analyzer"].replace("_", " ").capitalize())


def test_the_report_names_the_exact_models_behind_it(clip_report):
    from unmask.learned.animation_head import SHIPPED
    from unmask.learned.runtime import BlendModel, file_sha256

    w = clip_report.data["model"]["weights"]
    m = BlendModel()
    assert w["blend_cnn"] == file_sha256(m.onnx_path) and w["animation"] == file_sha256(SHIPPED)


def test_same_input_same_report(scanner, face_clip, clip_report):
    again = scanner.scan(face_clip)
    assert _strip_timings(again.data) == _strip_timings(clip_report.data)


def test_decoding_ahead_on_a_thread_changes_nothing(scanner, face_clip, clip_report, monkeypatch):
    import unmask.pipeline

    monkeypatch.setattr(unmask.pipeline, "prefetch", lambda frames, depth: iter(frames))  # decode in turn
    assert _strip_timings(scanner.scan(face_clip).data) == _strip_timings(clip_report.data)


def test_still_image_skips_time_cues(scanner, face_image):
    r = scanner.scan(face_image)
    jsonschema.validate(r.data, SCHEMA)
    status = {a["name"]: a["status"] for a in r.data["analyzers"]}
    assert r.data["input"]["kind"] == "image"
    assert r.label == "cannot_assess" and "still images" in r.data["verdict"]["reasons"][0]  # no validated still model yet
    assert status["blend_boundary"] == "ok" and status["head_pose"] == "ok"
    assert status["temporal"] == status["glitches"] == status["blinks"] == "skipped"
    assert "still image" in next(a["reason"] for a in r.data["analyzers"] if a["name"] == "temporal")


def test_no_face_video(scanner, tmp_path):
    import numpy as np

    from unmask.synth import write_video

    rng = np.random.default_rng(1)
    frames = [np.full((120, 160, 3), 90, np.uint8) + rng.integers(0, 20, (120, 160, 3), dtype=np.uint8) for _ in range(20)]
    r = scanner.scan(write_video(tmp_path / "empty.mp4", frames, fps=10))
    jsonschema.validate(r.data, SCHEMA)
    assert r.label == "no_face" and r.score is None


def test_cli_scans_good_files_past_bad_ones(face_clip, tmp_path, capsys):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    out = tmp_path / "reports"
    code = main(["scan", str(bad), str(face_clip), str(tmp_path / "missing.mov"), "--json", str(out), "-q"])
    cap = capsys.readouterr()
    assert code == 1
    errors = [line for line in cap.err.splitlines() if line.startswith("unmask: error:")]
    assert len(errors) == 2 and "notes.mp4" in errors[0] and "missing.mov" in errors[1]
    assert "Traceback" not in cap.err
    assert "face.mp4:" in cap.out
    written = json.loads((out / "face.json").read_text())
    jsonschema.validate(written, SCHEMA)


def test_cli_json_to_stdout(face_image, capsys):
    assert main(["scan", str(face_image), "--json", "-", "-q"]) == 0
    d = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert d["schema_version"] == "1.5"


def test_cli_bad_setting_is_one_line(face_clip, capsys):
    assert main(["scan", str(face_clip), "--set", "sampling.fps=-1", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fps must be positive" in err[0]


def test_console_script_runs_without_traceback(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    res = subprocess.run([sys.executable, "-m", "unmask.cli", "scan", str(empty), str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 1
    lines = [line for line in res.stderr.splitlines() if line.startswith("unmask: error:")]
    assert len(lines) == 2 and "Traceback" not in res.stderr


def test_bench_on_a_tiny_manifest(face_clip, face_image, tmp_path):
    import shutil

    media = tmp_path / "m"
    media.mkdir()
    shutil.copy(face_clip, media / "a.mp4")
    shutil.copy(face_image, media / "b.jpg")
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "kind", "origin", "manipulation"])
        w.writerow(["m/a.mp4", "real", "video", "synthetic", "none"])
        w.writerow(["m/b.jpg", "fake", "image", "synthetic-still", "face_swap"])
        w.writerow(["m/c.mp4", "unlabeled", "video", "?", "unknown"])
    out = tmp_path / "bench"
    assert main(["bench", str(manifest), "--out", str(out), "--no-speed", "-q"]) == 0
    s = json.loads((out / "summary.json").read_text())
    for key in ("n", "auc", "ap", "eer", "fpr_at_threshold", "tpr_at_threshold", "by_origin", "frames_per_s",
                "real_time_factor", "peak_rss_mb", "analyzers", "images"):
        assert key in s
    assert s["n"] == 1 and s["images"]["n"] == 1  # the unlabeled row is skipped
    assert (out / "roc.png").stat().st_size > 0
    rows = list(csv.DictReader((out / "scores.csv").read_text().splitlines()))
    assert len(rows) == 2
    from unmask_training.benchdoc import render

    doc = render(s)
    assert "## Each analyzer alone" in doc and "(reference-benchmarks.md)" in doc
    # as `make bench` runs it (unmask-train benchdoc), with a speed clip's stage timings
    s["speed"] = {"1080p_10s": {"clip": "1920x1080 10 s 30 fps (synthetic)", "scan_s": 6.0, "decode_only_s": 1.3,
                                "scan_to_decode_ratio": 4.6, "real_time_factor": 1.7, "frames_analyzed": 80,
                                "peak_rss_mb": 500.0, "startup_s": 1.4, "timings": {"decode_s": 0.4, "total_s": 6.0}}}
    (out / "summary.json").write_text(json.dumps(s))
    subprocess.run([sys.executable, "-m", "unmask_training", "benchdoc", str(out), str(tmp_path / "b.md")], check=True)
    assert "| waiting for decoded frames (and, on two cores, their faces detected ahead) | 0.40 |" in (tmp_path / "b.md").read_text()
    # a second run reuses the saved reports
    assert main(["bench", str(manifest), "--out", str(out), "--no-speed", "-q"]) == 0
    assert json.loads((out / "summary.json").read_text())["n_scanned_this_run"] == 0
    # ... unless the weights an analyzer read have changed since: then that file is scanned again
    saved = sorted((out / "reports").glob("*.json"))[0]
    r = json.loads(saved.read_text())
    assert set(r["model"]["weights"]) == {"blend_cnn", "animation"}
    r["model"]["weights"]["blend_cnn"] = "0" * 64
    saved.write_text(json.dumps(r))
    assert main(["bench", str(manifest), "--out", str(out), "--no-speed", "-q"]) == 0
    assert json.loads((out / "summary.json").read_text())["n_scanned_this_run"] == 1
    # robustness: degraded copies of the videos
    from unmask_training.cli import main as train_main

    assert train_main(["bench-perturbed", "flip", str(manifest), "--out", str(tmp_path / "flip"), "--no-speed", "-q"]) == 0
    flipped = json.loads((tmp_path / "flip" / "summary.json").read_text())
    assert flipped["perturbation"] == "flip" and flipped["n"] == 1 and flipped["images"]["n"] == 0
