"""The HTML report: self-contained (nothing fetched), every section present, heatmap overlays drawn,
safe with hostile names."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import jsonschema
import numpy as np
import pytest

from unmask.cli import main
from unmask.fusion import Verdict
from unmask.report.attachments import collect_attachments, overlay
from unmask.report.build import Report, load_schema
from unmask.report.html import render_html, timeline
from unmask.types import AnalyzerResult, FaceTrack, Heatmap, MediaContext, MediaInfo, TrackScore

EXTERNAL = re.compile(r"""(?:src|href|action|poster)\s*=\s*["']?(?!data:|#)[a-z]+:"""
                      r"""|(?-i:url)\(\s*["']?(?!data:)|@import|<link\b|<iframe\b""", re.I)


def assert_self_contained(html: str) -> None:
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "http://" not in html and "https://" not in html


def test_real_report_has_every_section_and_fetches_nothing(face_clip_report):
    r = face_clip_report
    kinds = [a.kind for a in r.attachments]
    assert kinds.count("thumbnail") == len(r.data["faces"]) == 1 and 1 <= kinds.count("moment") <= 4
    assert all(a.data[:2] == b"\xff\xd8" for a in r.attachments)  # JPEG
    html = render_html(r, facts=[("scan id", "abc123")], settings={"sampling": {"fps": 8.0}})
    assert_self_contained(html)
    v = r.data["verdict"]
    assert f'data-label="{v["label"]}"' in html and v["summary"].split(".")[0] in html
    assert html.count('src="data:image/jpeg;base64,') == len(r.attachments)
    for a in r.data["analyzers"]:
        assert f'id="analyzer-{a["name"]}"' in html and a["checks"] in html
    for key in ("sha256", "container", "video_codec"):
        assert str(r.data["input"][key]) in html
    assert r.data["config_digest"] in html and r.data["model"]["fusion_sha256"] in html
    assert "abc123" in html and "sampling.fps" in html
    assert "<svg" in html and "@media print" in html
    embedded = re.search(r'<script type="application/json" id="unmask-report">(.*?)</script>', html, re.S).group(1)
    assert json.loads(embedded) == json.loads(r.to_json())
    assert render_html(r, facts=[("scan id", "abc123")], settings={"sampling": {"fps": 8.0}}) == html  # deterministic


def test_cli_writes_html(face_clip, tmp_path):
    out = tmp_path / "r.html"
    assert main(["scan", str(face_clip), "--html", str(out), "-q"]) == 0
    html = out.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "unmask report" in html and "data:image/jpeg" in html


def test_cli_html_for_several_files_needs_a_directory(face_clip, tmp_path, capsys):
    f = tmp_path / "file.html"
    f.write_text("x")
    assert main(["scan", str(face_clip), str(face_clip), "--html", str(f), "-q"]) == 1
    assert "needs a directory" in capsys.readouterr().err


def _fake_heatmap_result(obs, track_id: int) -> AnalyzerResult:
    img = obs.crop[::2, ::2].copy()  # 128 px
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    heat = np.exp(-((xx - 90) ** 2 + (yy - 60) ** 2) / 300.0).astype(np.float32)
    hm = Heatmap(track_id, obs.frame_index, obs.t, img, heat, 0.83, "bright: where the blend boundary shows")
    return AnalyzerResult("fake_cnn", "0", "ok", "A fake learned detector for the test.",
                          (TrackScore(track_id, 0.83, {"prob": 0.83}, ((obs.t, 0.83),)),), heatmaps=(hm, hm))


def test_heatmaps_become_overlays_in_their_analyzers_card(astronaut_obs, face_clip_report):
    obs = replace(astronaut_obs, t=0.5)
    track = FaceTrack(1, (obs,))
    info = MediaInfo("x.mp4", "0" * 64, 10, "mp4", "video", "h264", 1.0, 25.0, 512, 512)
    ctx = MediaContext(info, (), (), (track,))
    result = _fake_heatmap_result(obs, 1)
    verdict = Verdict("likely_fake", 0.9, 0.2, 0.92, 1, (), (), {})
    atts = collect_attachments(ctx, [result], verdict)
    heat = [a for a in atts if a.kind == "heatmap"]
    assert [a.analyzer for a in heat] == ["fake_cnn", "fake_cnn"] and "blend boundary shows" in heat[0].caption
    moment = next(a.caption for a in atts if a.kind == "moment")
    assert [a.kind for a in atts].count("moment") == 1 and "fake cnn 0.83" in moment

    pic = overlay(result.heatmaps[0])
    assert pic.shape == (128, 260, 3)
    left, right = pic[:, :128].astype(int), pic[:, 132:].astype(int)
    assert np.array_equal(left, result.heatmaps[0].image)
    assert np.abs(right - left)[50:70, 80:100].mean() > np.abs(right - left)[100:, :30].mean() + 20  # hot spot drawn

    data = json.loads(face_clip_report.to_json())
    data["analyzers"].append({"name": "fake_cnn", "version": "0", "checks": "a learned check", "status": "ok",
                              "score": 0.83, "reason": None, "explanation": "A fake learned detector for the test.",
                              "evidence": [], "tracks": [], "video_features": {}})
    html = render_html(Report.from_dict(data, atts))
    card = html[html.index('id="analyzer-fake_cnn"'):]
    card = card[:card.index("</section>")]
    assert card.count("data:image/jpeg;base64,") == 2 and "heat map" in card


def test_hostile_file_names_are_escaped(face_clip_report):
    data = json.loads(face_clip_report.to_json())
    data["input"]["path"] = "</script><script>alert(1)</script><img src=x onerror=alert(2)>.mp4"
    html = render_html(Report.from_dict(data, face_clip_report.attachments))
    assert "<script>alert" not in html and "<img src=x" not in html
    embedded = re.search(r'<script type="application/json" id="unmask-report">(.*?)</script>', html, re.S).group(1)
    assert json.loads(embedded)["input"]["path"] == data["input"]["path"]


@pytest.mark.parametrize("kind,expect", [("image", None), ("video", "svg")], ids=["still", "video"])
def test_timeline_marks_suspicious_seconds(face_clip_report, kind, expect):
    data = json.loads(face_clip_report.to_json())
    data["input"]["kind"] = kind
    data["timeline"] = [{"t": 0.0, "score": 0.1}, {"t": 1.0, "score": 0.7}, {"t": 2.0, "score": 0.2}]
    tl = timeline(Report.from_dict(data))
    if expect is None:
        assert tl is None
        return
    assert [b["suspicious"] for b in tl["bars"]] == [False, True, False]
    assert tl["suspicious"] == ["1–2 s"] and len(tl["lanes"]) == len(data["faces"])


def test_face_lanes_pack_bursts_into_rows(face_clip_report):
    data = json.loads(face_clip_report.to_json())
    face = data["faces"][0]
    data["faces"] = [{**face, "id": i + 1, "person_id": i + 1, "t_start": 10.0 * (i // 2), "t_end": 10.0 * (i // 2) + 2}
                     for i in range(12)]
    data["input"]["duration_s"] = 60.0
    data["verdict"]["track_id"] = data["verdict"]["person_id"] = 11
    tl = timeline(Report.from_dict(data))
    assert tl["rows"] == 2 and len(tl["lanes"]) == 12  # two faces at a time, six bursts
    assert [lane["verdict_face"] for lane in tl["lanes"]].count(True) == 1
    # linked into two people (left and right of each burst): every stretch of the verdict's person is marked
    for f in data["faces"]:
        f["person_id"] = 1 + (f["id"] + 1) % 2
    data["verdict"]["person_id"] = 1
    tl = timeline(Report.from_dict(data))
    assert [lane["label"] for lane in tl["lanes"]] == ["1", "2"] * 6
    assert [lane["verdict_face"] for lane in tl["lanes"]] == [True, False] * 6


def test_reports_without_a_verdict_still_render(face_clip_report):
    """No face, or a still image: no score bar, no timeline, the reasons instead."""
    data = json.loads(face_clip_report.to_json())
    data["faces"], data["timeline"], data["evidence"] = [], [], []
    data["verdict"].update(label="no_face", score=None, track_id=None, drivers=[], contributions={},
                           reasons=["no face was found in the analysed frames"],
                           summary="No face found: nothing was judged.")
    for a in data["analyzers"]:
        a.update(status="skipped", score=None, reason="no face was found", evidence=[], tracks=[])
    html = render_html(Report.from_dict(data))
    assert_self_contained(html)
    assert 'data-label="no_face"' in html and "no face was found in the analysed frames" in html
    assert 'class="gauge"' not in html and "No face was found in the analysed frames." in html
    assert html.count("Not run: no face was found.") == len(data["analyzers"])
    data["input"]["kind"] = "image"
    assert "A still image has no timeline." in render_html(Report.from_dict(data))


def _with_reference(data: dict, conclusion: str, pid: float, pm: float | None, windows: int = 4,
                    voice: dict | None = None) -> dict:
    data = json.loads(json.dumps(data))
    data["reference"] = {
        "claimed": "Ada Lovelace", "profile_version": 2, "profile_created_at": "2026-01-01T00:00:00Z",
        "profile_sha256": "ab" * 32, "calibration_sha256": "cd" * 32, "conclusion": conclusion,
        "statement": f"(the statement for {conclusion})", "track_id": 1,
        "identity": {"score": pid, "distance": 0.4, "embeddings": 6},
        "mannerisms": {"checked": pm is not None, "score": pm, "llr": -3.0 if pm is not None else None,
                       "windows": windows if pm is not None else 0}}
    if voice is not None:
        data["reference"]["voice"] = voice
    return data


@pytest.mark.parametrize("conclusion,pid,pm,words", [
    ("impersonator", 0.91, 0.01,
     ["Same face, foreign mannerisms → likely Ada Lovelace's face swapped onto an impersonator",
      "Does not move like Ada Lovelace"]),
    ("not_this_person", 0.02, 0.4, ["Different face → not Ada Lovelace, which is not by itself a fake",
                                    "A different face from Ada Lovelace's enrolled footage"]),
    ("consistent", 0.99, 0.9, ["Same face, same way of moving → consistent with Ada Lovelace (not proof)",
                               "Moves like Ada Lovelace: mannerism score 0.90 over 4 windows"]),
    ("mannerisms_not_checked", 0.99, None, ["mannerisms not compared", "Not compared: the face needs at least 4 s"]),
], ids=["impersonator", "different-face", "consistent", "too-short"])
def test_reference_card_says_what_face_and_movements_mean_together(face_clip_report, conclusion, pid, pm, words):
    data = _with_reference(face_clip_report.data, conclusion, pid, pm)
    html = render_html(Report.from_dict(data, face_clip_report.attachments))
    assert_self_contained(html)
    card = html[html.index('id="reference"'):]
    card = card[:card.index("</section>")]
    assert f'data-conclusion="{conclusion}"' in card and f"(the statement for {conclusion})" in card
    assert "version 2" in card and "ab" * 32 in card and "Is this Ada Lovelace?" in html
    for w in words:
        assert w.replace("'", "&#39;") in card, w
    assert 'id="reference"' not in render_html(face_clip_report)  # no claim, no card


@pytest.mark.parametrize("voice, words", [
    ({"checked": True, "skipped_because": None, "score": 0.03, "similarity": 0.52, "own_range": [0.78, 0.91],
      "others_below": 0.66, "segments": 3, "speech_s": 9.1, "speakers": 1},
     ["Same face, someone else's voice", "A different voice from Ada Lovelace's enrolled speech",
      "similarity 0.52 (Ada Lovelace's enrolled speech 0.78–0.91 against itself; other speakers mostly below 0.66)"]),
    ({"checked": False, "skipped_because": "the file has no sound", "score": None, "similarity": None,
      "own_range": None, "others_below": None, "segments": 0, "speech_s": 0.0, "speakers": 0},
     ["Not compared: the file has no sound"]),
], ids=["mismatch", "no-sound"])
def test_reference_card_gives_the_voice_a_line(face_clip_report, voice, words):
    conclusion = "voice_mismatch" if voice["checked"] else "consistent"
    data = _with_reference(face_clip_report.data, conclusion, 0.99, 0.9, voice=voice)
    data["schema_version"] = "1.4"
    jsonschema.validate(data, load_schema())
    html = render_html(Report.from_dict(data, face_clip_report.attachments))
    card = html[html.index('id="reference"'):]
    card = card[:card.index("</section>")]
    assert "<th>Voice</th>" in card
    for w in words:
        assert w.replace("'", "&#39;") in card, w


def test_fired_rules_are_shown_in_the_verdict_banner(face_clip_report):
    data = json.loads(face_clip_report.to_json())
    data["verdict"].update(label="inconclusive", fusion_label="likely_real", rules=[
        {"rule": "lip_sync_mismatch", "analyzer": "av_sync", "track_id": 1, "from_label": "likely_real",
         "to_label": "inconclusive", "detail": "Face 1's mouth does not follow the voice."},
        {"rule": "foreign_mannerisms", "analyzer": "reference", "track_id": 1, "from_label": "inconclusive",
         "to_label": "inconclusive", "detail": "Face 1 matches Ada's face but not how Ada moves."}])
    html = render_html(Report.from_dict(data))
    banner = html[html.index('id="verdict"'):html.index("</section>")]
    assert "The lip-sync rule raised the verdict from “likely real” to “inconclusive”." in banner
    assert "The mannerism rule fired, but the verdict was already “inconclusive”: it changed nothing." in banner
    assert "say “likely real” on their own" in banner
    assert "Combination rules that fired" in html and "Face 1 matches Ada&#39;s face but not how Ada moves." in html


def test_skipped_lip_sync_reads_as_one_line(face_clip_report):
    html = render_html(face_clip_report)
    card = html[html.index('id="analyzer-av_sync"'):]
    card = card[:card.index("</section>")]
    assert "Lip sync (av_sync)" in card and "not run</span>" in card
    assert card.count("the file has no sound track") == 1 and "Not run: the file has no sound track." in card


def test_provenance_card_lists_the_certificate_chain(face_clip_report):
    from unmask.provenance import Provenance
    from unmask.provenance.cert_chain import Certificate
    from unmask.provenance.credentials import Credential, Signer
    from unmask.provenance.metadata import facts_from_tags

    leaf = Certificate("CN=Newsroom Camera,O=Example News", "CN=Example CA,O=Example", "1f", "2026-01-01T00:00:00+00:00",
                       "2027-01-01T00:00:00+00:00", "ab" * 32, False)
    root = Certificate("CN=Example CA,O=Example", "CN=Example CA,O=Example", "2", "2020-01-01T00:00:00+00:00",
                       "2030-01-01T00:00:00+00:00", "cd" * 32, True)
    cred = Credential("valid", validation_state="Valid", signature_valid=True, hashes_valid=True, trusted=False,
                      signer=Signer("Newsroom Camera", "Example CA", "1f", "es256", None), manifests=1,
                      chain=(leaf, root))
    data = json.loads(face_clip_report.to_json())
    data["provenance"] = Provenance(cred, facts_from_tags([])).to_dict()
    jsonschema.validate(data, load_schema())
    html = render_html(Report.from_dict(data))
    card = html[html.index('id="provenance"'):]
    card = card[:card.index("</section>")]
    assert "<th>signing certificate</th><td>CN=Newsroom Camera,O=Example News" in card
    assert "<th>root certificate</th><td>CN=Example CA,O=Example" in card and "cd" * 32 in card
    data["provenance"]["credential"].update(chain=[], chain_error="the claim signature carries no x5chain header")
    jsonschema.validate(data, load_schema())
    assert "not read: the claim signature carries no x5chain header" in render_html(Report.from_dict(data))
