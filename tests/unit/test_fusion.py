import json
from dataclasses import replace

import numpy as np
import pytest

from unmask.errors import ModelError
from unmask.fusion import FusionModel, decide, gate_reason, pooled_score, several_faces, track_features
from unmask.report.rescore import rescore_saved
from unmask.types import (
    AnalyzerResult,
    FaceObs,
    FaceTrack,
    MediaContext,
    MediaInfo,
    Person,
    SampledFrame,
    TrackScore,
)


def _info(kind="video"):
    return MediaInfo("x.mp4", "0" * 64, 10, "mp4", kind, "h264", 4.0, 25.0, 640, 480)


def _track(tid, n=10, size=120, dt=0.2, landmarks=True):
    obs = []
    for i in range(n):
        x0 = 100.0 + tid * 300
        obs.append(FaceObs(i, i * dt, (x0, 100.0, x0 + size, 100.0 + size), 0.9, np.zeros((64, 64, 3), np.uint8),
                           (x0 - 20, 80.0, x0 + size + 20, 120.0 + size),
                           np.zeros((478, 3), np.float32) if landmarks else None))
    return FaceTrack(tid, tuple(obs))


def _ctx(tracks, n_frames=10):
    return MediaContext(_info(), (), tuple(SampledFrame(i, i * 0.2, 0, 1) for i in range(n_frames)), tuple(tracks))


MODEL = FusionModel("t", ("a.x", "b.y"), (0.0, 0.0), (1.0, 1.0), (2.0, -1.0), 0.0, likely_real=0.3, likely_fake=0.8)


def _results(xa, yb):
    return [
        AnalyzerResult("a", "1", "ok", "", tracks=tuple(TrackScore(t, 0.5, {"x": float(v)}) for t, v in xa.items())),
        AnalyzerResult("b", "1", "ok", "", tracks=tuple(TrackScore(t, 0.5, {"y": float(v)}) for t, v in yb.items())),
    ]


def test_no_tracks_is_no_face():
    assert decide(_ctx([]), [], MODEL).label == "no_face"


@pytest.mark.parametrize(
    "track, needle",
    [(_track(0, size=30), "too small"), (_track(0, n=3), "too few frames"), (_track(0, n=8, dt=0.05), "too briefly"),
     (_track(0, landmarks=False), "landmarks")],
    ids=["tiny", "few-frames", "brief", "no-landmarks"],
)
def test_gate_refuses_weak_tracks(track, needle):
    ctx = _ctx([track])
    assert needle in gate_reason(track, ctx)
    v = decide(ctx, _results({0: 3.0}, {0: 0.0}), MODEL)
    assert v.label == "cannot_assess" and v.score is None and needle in v.reasons[0]


def test_video_follows_most_suspicious_track_and_labels_by_thresholds():
    ctx = _ctx([_track(0), _track(1)])
    v = decide(ctx, _results({0: -1.0, 1: 2.0}, {0: 0.0, 1: 0.0}), MODEL)
    assert v.track_id == 1 and v.label == "likely_fake" and v.score == pytest.approx(1 / (1 + np.exp(-4)))
    assert v.contributions["a"] == pytest.approx(4.0)
    low = decide(ctx, _results({0: -2.0, 1: -2.0}, {0: 0.0, 1: 0.0}), MODEL)
    assert low.label == "likely_real"
    mid = decide(ctx, _results({0: 0.0, 1: 0.0}, {0: 0.0, 1: 0.0}), MODEL)
    assert mid.label == "inconclusive"


def test_missing_features_are_imputed_and_extremes_clipped():
    p_missing, _ = MODEL.predict({})
    assert p_missing == pytest.approx(0.5)
    p_wild, c = MODEL.predict({"a.x": 1e9, "b.y": float("nan")})
    assert c["a.x"] == pytest.approx(2.0 * 3.0) and c["b.y"] == 0.0  # clipped at Z_CLIP = 3 sigma


def test_track_features_prefix_and_video_features():
    r = AnalyzerResult("glitches", "1", "ok", "", tracks=(TrackScore(0, 0.1, {"f": 1.0}),), video_features={"v": 2.0})
    skipped = AnalyzerResult("blinks", "1", "skipped", "", reason="short")
    assert track_features([r, skipped], 0) == {"glitches.f": 1.0, "glitches.v": 2.0}


def test_bad_model_files_raise_model_error(tmp_path):
    p = tmp_path / "m.json"
    p.write_text("{not json")
    with pytest.raises(ModelError):
        FusionModel.load(p)
    p.write_text(json.dumps({"version": "x", "features": ["a"], "mean": [], "scale": [], "coef": [], "intercept": 0,
                             "thresholds": {"likely_real": 0.2, "likely_fake": 0.8}}))
    with pytest.raises(ModelError, match="1 features"):
        FusionModel.load(p)


def test_shipped_model_loads():
    m = FusionModel.load()
    assert 0 <= m.likely_real <= m.likely_fake <= 1 and len(m.sha256) == 64


def test_rescore_saved_matches_decide():
    ctx = _ctx([_track(0), _track(1)])
    res = _results({0: 0.5, 1: 1.5}, {0: 1.0, 1: 0.0})
    v = decide(ctx, res, MODEL)
    saved = {
        "input": {"kind": "video"},
        "verdict": {"label": "inconclusive", "score": 0.5, "track_id": 0, "thresholds": {}},
        "faces": [{"id": 0, "assessable": True}, {"id": 1, "assessable": True}],
        "analyzers": [
            {"name": r.name, "status": r.status, "video_features": {},
             "tracks": [{"track_id": t.track_id, "score": t.score, "features": t.features} for t in r.tracks]}
            for r in res
        ],
    }
    new = rescore_saved(saved, MODEL)
    assert new["verdict"]["track_id"] == v.track_id and new["verdict"]["label"] == v.label
    assert new["verdict"]["score"] == pytest.approx(v.score, abs=1e-4)
    # a report that names persons (schema 1.2) keeps them in step: the verdict's person, each person's pooled score
    saved["verdict"]["person_id"] = 1
    saved["faces"] = [{**f, "person_id": 1} for f in saved["faces"]]
    saved["persons"] = [{"id": 1, "track_ids": [0, 1], "score": None}]
    new = rescore_saved(saved, MODEL)
    assert new["verdict"]["person_id"] == 1
    assert new["persons"][0]["score"] == pytest.approx(pooled_score([f["score"] for f in new["faces"]], [1, 1]),
                                                       abs=1e-4)


def test_kinds_the_model_was_not_validated_on_are_not_scored():
    ctx = MediaContext(_info("image"), (), (SampledFrame(0, 0.0, 0, 1),), (_track(0, n=1),))
    v = decide(ctx, _results({0: 3.0}, {0: 0.0}), MODEL)
    assert v.label == "cannot_assess" and v.score is None and "still images" in v.reasons[0]
    assert v.tracks[0].assessable  # the face itself passed the quality gate
    stills = FusionModel("t", ("a.x",), (0.0,), (1.0,), (1.0,), 0.0, 0.3, 0.8, kinds=("video", "animation", "image"))
    assert decide(ctx, _results({0: 3.0}, {0: 0.0}), stills).label == "likely_fake"


def test_drivers_say_which_direction_the_calibration_learned():
    """A feature whose *low* values went with fakes is explained as such, not as 'this points to manipulation'."""
    from dataclasses import replace

    from unmask.report.words import drivers

    model = replace(MODEL, real_median=(0.0, 0.5))
    ctx = _ctx([_track(1)])
    verdict = decide(ctx, _results({1: 3.0}, {1: -3.0}), model)  # high x (w > 0) and low y (w < 0): both toward fake
    text = {d["feature"]: d["detail"] for d in drivers(verdict, model, [])}
    assert "higher values went with manipulation" in text["x"]
    assert "lower values went with manipulation" in text["y"] and "against about 0.5" in text["y"]
    assert model.weight("b.y") == -1.0 and model.weight("nope") is None


def test_a_weight_held_at_zero_reads_nothing():
    """An analyzer whose weights all sit at 0 neither contributes nor counts as read by the score."""
    from dataclasses import replace

    model = replace(MODEL, coef=(2.0, 0.0))
    p, contrib = model.predict({"a.x": 1.0, "b.y": 5.0})
    assert set(contrib) == {"a.x"} and p == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert model.read_analyzers == frozenset({"a"})
    v = decide(_ctx([_track(1)]), _results({1: 1.0}, {1: 5.0}), model)
    assert set(v.contributions) == {"a"}


def _image_ctx(tracks):
    return MediaContext(_info("image"), (), (SampledFrame(0, 0.0, 0, 1),), tuple(tracks))


def test_stills_use_their_own_model_and_thresholds_when_one_is_validated():
    still_dict = {"version": "t.still", "features": ["a.x"], "mean": [0.0], "scale": [1.0], "coef": [1.0],
                  "intercept": 0.0, "thresholds": {"likely_real": 0.2, "likely_fake": 0.6}}
    video_dict = {"version": "t", "features": ["a.x", "b.y"], "mean": [0, 0], "scale": [1, 1], "coef": [2.0, -1.0],
                  "intercept": 0.0, "thresholds": {"likely_real": 0.3, "likely_fake": 0.8}}
    plain = FusionModel.from_dict(video_dict)
    with_still = FusionModel.from_dict({**video_dict, "still": still_dict})
    assert plain.for_kind("image") is None and with_still.for_kind("video") is with_still
    assert with_still.still is not None and with_still.for_kind("image") is with_still.still
    ctx = _image_ctx([_track(0, n=1)])
    res = _results({0: 1.0}, {0: 5.0})
    assert decide(ctx, res, plain).label == "cannot_assess"
    v = decide(ctx, res, with_still)
    # the still model reads a.x only (b.y's -5 would have pulled a video score down) and its own threshold
    assert v.label == "likely_fake" and v.score == pytest.approx(1 / (1 + np.exp(-1.0))) and v.likely_fake == 0.6
    saved = {"verdict": {"label": "cannot_assess", "score": None, "track_id": None}, "input": {"kind": "image"},
             "faces": [{"id": 0, "assessable": True, "score": None}],
             "analyzers": [{"name": "a", "status": "ok", "video_features": {}, "tracks": [{"track_id": 0, "features": {"x": 1.0}}]}]}
    again = rescore_saved(saved, with_still)
    assert again["verdict"]["label"] == "likely_fake" and again["verdict"]["thresholds"]["likely_fake"] == 0.6
    assert rescore_saved(saved, plain)["verdict"]["label"] == "cannot_assess"


REAL_LOGIT = (-1.1, 1.45)  # about the shipped fit's real videos' logit mean and sd


def test_several_faces_correction_leaves_one_face_alone_and_lowers_more():
    assert several_faces(0.97, 1, REAL_LOGIT) == 0.97
    seven, two = several_faces(0.97, 7, REAL_LOGIT), several_faces(0.97, 2, REAL_LOGIT)
    assert seven < two < 0.97
    # monotone in the score, and far-out scores stay far out (no rounding to a plateau)
    assert several_faces(0.999999, 7, REAL_LOGIT) > several_faces(0.9999, 7, REAL_LOGIT) > seven


def test_a_persons_stretches_are_pooled_not_maximised():
    assert pooled_score([0.5], [3]) == pytest.approx(0.5)
    # logits 0 (weight 3) and log 9 (weight 1): mean log(9)/4
    assert pooled_score([0.5, 0.9], [3, 1]) == pytest.approx(1 / (1 + 9 ** -0.25))


def test_verdict_pools_one_person_filmed_in_many_stretches():
    """A long video of one person, read in bursts: one burst's high score no longer decides alone."""
    model = replace(MODEL, real_logit=REAL_LOGIT)
    tracks = [_track(t) for t in range(4)]
    ctx = replace(_ctx(tracks), persons=(Person(1, (0, 1, 2, 3)),))
    res = _results({0: 2.0, 1: -1.0, 2: -1.0, 3: -1.0}, {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0})
    old = decide(ctx, res, MODEL)  # a model without real_logit: the most suspicious track, as it was fitted
    new = decide(ctx, res, model)
    assert old.score == pytest.approx(1 / (1 + np.exp(-4.0)))
    assert new.score == pytest.approx(pooled_score([t.score for t in new.tracks], [10] * 4))
    assert new.score < 0.5 < old.score and new.track_id == 0  # the explanation still names the worst stretch
    assert any("4 stretches" in r for r in new.reasons)


def test_verdict_corrects_for_the_number_of_people():
    model = replace(MODEL, real_logit=REAL_LOGIT)
    ctx = _ctx([_track(0), _track(1), _track(2)])  # not linked: three people
    res = _results({0: 2.0, 1: -1.0, 2: -1.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    v = decide(ctx, res, model)
    top = max(t.score for t in v.tracks)
    assert v.score == pytest.approx(several_faces(top, 3, REAL_LOGIT)) and v.track_id == 0
    assert any("3 people were scored" in r for r in v.reasons)
    one = decide(_ctx([_track(0)]), _results({0: 2.0}, {0: 0.0}), model)
    assert one.score == pytest.approx(top)  # one face: nothing to correct


def test_rescoring_a_report_pools_people_as_a_scan_does():
    model = replace(MODEL, real_logit=REAL_LOGIT)
    ctx = replace(_ctx([_track(0), _track(1), _track(2)]), persons=(Person(1, (0, 1)), Person(2, (2,))))
    res = _results({0: 2.0, 1: -1.0, 2: 0.5}, {0: 0.0, 1: 0.0, 2: 0.0})
    v = decide(ctx, res, model)
    saved = {
        "input": {"kind": "video"},
        "verdict": {"label": "inconclusive", "score": 0.5, "track_id": 0, "thresholds": {}},
        "faces": [{"id": t, "assessable": True, "person_id": p, "n_observations": 10} for t, p in ((0, 1), (1, 1), (2, 2))],
        "analyzers": [
            {"name": r.name, "status": r.status, "video_features": {},
             "tracks": [{"track_id": t.track_id, "score": t.score, "features": t.features} for t in r.tracks]}
            for r in res
        ],
    }
    new = rescore_saved(saved, model)
    assert new["verdict"]["score"] == pytest.approx(v.score, abs=1e-4) and new["verdict"]["track_id"] == v.track_id


def test_a_model_with_a_bad_real_logit_is_refused(tmp_path):
    doc = {"version": "x", "features": ["a.x"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0,
           "thresholds": {"likely_real": 0.2, "likely_fake": 0.8}, "real_logit": {"mean": -1.0, "sd": 0.0}}
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="real_logit"):
        FusionModel.load(p)

