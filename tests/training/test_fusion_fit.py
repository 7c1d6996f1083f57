"""fit_fusion on a synthetic bench directory: grouped CV, thresholds, perturbed copies, the model file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from unmask.bench import ManifestRow, report_name
from unmask.fusion import FusionModel
from unmask_training.fusion_fit import CONTEXT_FEATURES, fit_fusion


def _bench(dirpath: Path, rng: np.random.Generator, perturb: str | None, shift: float) -> None:
    """40 'videos' in 8 groups; feature x separates fakes, y is noise, n_landmark_frames is context."""
    (dirpath / "reports").mkdir(parents=True)
    (dirpath / "summary.json").write_text(json.dumps({"perturbation": perturb}))
    with (dirpath / "scores.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "kind", "origin", "manipulation", "group"])
        for i in range(40):
            label = "fake" if i % 2 else "real"
            row = ManifestRow(Path(f"/data/v{i}.mp4"), label, "video", "o", "m", f"g{i % 8}")
            w.writerow([str(row.path), label, "video", "o", "m", row.group])
            x = rng.normal(1.5 if label == "fake" else 0.0, 1.0) + shift
            report = {
                "faces": [{"id": 1, "assessable": True, "n_observations": 10, "median_size_px": 100.0}],
                "analyzers": [{"name": "a", "status": "ok", "video_features": {},
                               "tracks": [{"track_id": 1, "features": {"x": x, "y": float(rng.normal()),
                                                                       "n_landmark_frames": float(i)}}]}],
            }
            (dirpath / "reports" / report_name(row, perturb)).write_text(json.dumps(report))


def test_fit_fusion_writes_a_loadable_model(tmp_path):
    rng = np.random.default_rng(0)
    _bench(tmp_path / "bench", rng, None, 0.0)
    _bench(tmp_path / "bench-crf30", rng, "crf30", 0.3)
    out = tmp_path / "fusion.json"
    res = fit_fusion([tmp_path / "bench", tmp_path / "bench-crf30"], out)
    assert res["n_videos"] == 80 and res["perturbations"] == ["crf30", "none"]
    m = FusionModel.load(out)
    assert "a.x" in m.features and not any(f.split(".", 1)[1] in CONTEXT_FEATURES for f in m.features)
    assert m.coef[m.features.index("a.x")] > 0  # the informative feature pushes towards fake
    assert 0.5 <= m.likely_fake <= 0.99 and m.likely_real <= m.likely_fake
    cv = json.loads(out.read_text())["cross_validation"]
    assert cv["auc"] > 0.7 and set(cv["by_perturbation"]) == {"none", "crf30"}
    assert m.typical_real("a.x") is not None
    # videos are scored out of fold as a scan scores them; with one face each that is the main track's score
    assert cv["auc"] == cv["main_track_auc"] and "scored_as" in cv
    assert m.real_logit is not None and m.real_logit[1] > 0  # what the several-faces correction reads


def test_fit_logistic_matches_sklearn_without_constraints_and_holds_signs_with_them():
    from sklearn.linear_model import LogisticRegression

    from unmask_training.fusion_fit import fit_logistic

    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(30), np.ones(50)]
    Z = np.c_[rng.normal(y * 1.0, 1.0), rng.normal(-y * 1.0, 1.0), rng.normal(size=80)]
    w, b = fit_logistic(Z, y, 0.1, np.zeros(3, dtype=int))
    ref = LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000, tol=1e-10).fit(Z, y)
    assert np.allclose(w, ref.coef_[0], atol=1e-4) and abs(b - ref.intercept_[0]) < 1e-4
    # feature 1 goes *down* with fakes; if its analyzer says higher is suspect, it may not be learned backwards
    w, _ = fit_logistic(Z, y, 0.1, np.array([1, 1, 0]))
    assert w[0] > 0.1 and w[1] == 0.0


def test_feature_signs_come_from_the_analyzers():
    from unmask.analyzers.blinks import BlinkAnalyzer
    from unmask_training.fusion_fit import feature_signs

    assert BlinkAnalyzer.direction("left_right_corr") == -1 and BlinkAnalyzer.direction("one_eyed_frac") == 1
    assert BlinkAnalyzer.direction("mean_blink_s") == 0
    signs = feature_signs(["glitches.dup_frac", "blend_boundary.color_dist_p90", "blinks.left_right_corr",
                           "blend_boundary.sharp_ratio_med", "a.x"])
    assert signs.tolist() == [1, 1, -1, 0, 0]


def _stills(dirpath: Path, rng: np.random.Generator, sep: float) -> None:
    """30 photos in 6 groups beside the videos; blend_cnn.prob_med separates fakes by ``sep``."""
    with (dirpath / "scores.csv").open("a", newline="") as fh:
        w = csv.writer(fh)
        for i in range(30):
            label = "fake" if i % 3 == 0 else "real"
            row = ManifestRow(Path(f"/data/p{i}.jpg"), label, "image", "o", "m", f"h{i % 6}")
            w.writerow([str(row.path), label, "image", "o", "m", row.group])
            x = rng.normal(sep if label == "fake" else 0.0, 0.3)
            report = {"faces": [{"id": 1, "assessable": True, "n_observations": 1, "median_size_px": 100.0}],
                      "analyzers": [{"name": "blend_cnn", "status": "ok", "video_features": {},
                                     "tracks": [{"track_id": 1, "features": {"prob_med": x}}]},
                                    {"name": "a", "status": "ok", "video_features": {},
                                     "tracks": [{"track_id": 1, "features": {"x": float(rng.normal())}}]}]}
            (dirpath / "reports" / report_name(row, None)).write_text(json.dumps(report))


def test_a_still_model_ships_only_when_the_photos_validate_it(tmp_path):
    for sep, ships in ((2.0, True), (0.0, False)):
        d = tmp_path / f"bench{sep}"
        rng = np.random.default_rng(3)
        _bench(d, rng, None, 0.0)
        _stills(d, rng, sep)
        res = fit_fusion([d], tmp_path / f"fusion{sep}.json")
        m = FusionModel.load(tmp_path / f"fusion{sep}.json")
        assert res["n_videos"] == 40  # photos never enter the video model
        if ships:
            assert res["still"] == "validated" and m.for_kind("image") is m.still
            assert m.still.features == ("blend_cnn.prob_med",)  # only the detector validated on photos
            assert m.still.coef[0] > 0 and 0.5 <= m.still.likely_fake <= 0.99
        else:
            assert m.for_kind("image") is None and "below" in res["still"]


def test_bench_false_positive_audit_by_origin_and_resolution():
    from unmask.bench import _false_positives, false_positive_lines, resolution_band

    assert resolution_band(1920, 1080) == "1080p and up" and resolution_band(368, 656) == "360p-719p"
    assert resolution_band(256, 256) == "below 360p" and resolution_band(None, 5) == "unknown"
    recs = [{"label": "real", "verdict": v, "origin": o, "resolution": r} for v, o, r in
            (("likely_fake", "news", "below 360p"), ("likely_real", "news", "below 360p"),
             ("inconclusive", "phone", "360p-719p"), ("no_face", "phone", "360p-719p"))]
    recs.append({"label": "fake", "verdict": "likely_fake", "origin": "news", "resolution": "below 360p"})
    fp = _false_positives(recs)
    assert fp["by_origin"] == {"news": {"n": 2, "likely_fake": 1, "rate": 0.5},
                               "phone": {"n": 1, "likely_fake": 0, "rate": 0.0}}
    assert fp["by_resolution"]["below 360p"]["rate"] == 0.5
    lines = false_positive_lines(fp)
    assert lines[0] == "real videos at likely_fake by resolution:" and any("news" in ln and "1 of 2" in ln for ln in lines)


def test_a_missing_feature_reads_as_a_typical_real_video():
    from unmask_training.fusion_fit import missing_fill

    X = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, np.nan], [10.0, 9.0], [12.0, np.nan]])
    y = np.array([0, 0, 0, 1, 1])
    fill = missing_fill(X, y)
    assert fill[0] == 2.0 and fill[1] == 5.0  # the real rows' median, not the mean of all (7 / 5.6)
    no_real = missing_fill(np.array([[np.nan], [np.nan], [4.0]]), np.array([0, 0, 1]))
    assert no_real[0] == 4.0  # no real row has it: the mean of those that do
    base = dict(version="t", features=("a.x",), mean=(5.0,), scale=(1.0,), coef=(1.0,), intercept=0.0,
                likely_real=0.3, likely_fake=0.8, real_median=(2.0,))
    assert FusionModel(**base, meta={"missing_fill": "real_median"}).predict({})[0] < 0.5  # read as 2: below the mean
    assert FusionModel(**base).predict({})[0] == 0.5  # older models: read as the training mean


def test_likely_fake_keeps_real_originals_and_copies_each_within_its_budget(tmp_path):
    """Originals at most 2 %, copies at most 5 %, each set on its own (one 5 % budget over both let copies reach 7 %)."""
    from unmask_training.fusion_fit import TARGET_FPR, TARGET_FPR_COPIES, _threshold_pair

    rng = np.random.default_rng(1)
    originals, copies, fakes = rng.uniform(0, 0.9, 100), rng.uniform(0.2, 1.0, 100), rng.uniform(0.5, 1.0, 50)
    _, likely_fake = _threshold_pair(originals, fakes, copies)
    assert np.mean(originals >= likely_fake) <= TARGET_FPR and np.mean(copies >= likely_fake) <= TARGET_FPR_COPIES
    _, alone = _threshold_pair(originals, fakes)
    assert np.mean(originals >= alone) <= TARGET_FPR and alone <= likely_fake
    rng = np.random.default_rng(0)
    _bench(tmp_path / "bench", rng, None, 0.0)
    _bench(tmp_path / "bench-crf30", rng, "crf30", 0.3)
    out = tmp_path / "fusion.json"
    fit_fusion([tmp_path / "bench", tmp_path / "bench-crf30"], out)
    doc = json.loads(out.read_text())
    assert doc["threshold_rule"]["real_originals_at_likely_fake_max"] == TARGET_FPR
    for p, rates in doc["cross_validation"]["by_perturbation"].items():  # each set within its budget, out of fold
        assert rates["fpr_at_likely_fake"] <= (TARGET_FPR if p == "none" else TARGET_FPR_COPIES)


def test_each_set_of_copies_keeps_its_own_budget():
    """CRF 30 and phone copies each at most 5 %: pooled, harmless copies would let the phone copies reach 10 %."""
    from unmask_training.fusion_fit import TARGET_FPR_COPIES, _threshold_pair

    rng = np.random.default_rng(2)
    originals, fakes = rng.uniform(0, 0.6, 100), rng.uniform(0.5, 1.0, 50)
    crf30, phone = rng.uniform(0, 0.6, 100), rng.uniform(0.3, 1.0, 100)
    _, pooled = _threshold_pair(originals, fakes, np.r_[crf30, phone])
    _, each = _threshold_pair(originals, fakes, crf30, phone)
    assert np.mean(phone >= pooled) > TARGET_FPR_COPIES  # what one pooled budget allows
    assert np.mean(phone >= each) <= TARGET_FPR_COPIES and np.mean(crf30 >= each) <= TARGET_FPR_COPIES


def test_video_oof_pools_a_person_and_corrects_for_several_people():
    """Out of fold, a second stretch of the same person changes nothing when it looks the same; the same face
    as a second person lowers every video's score (two chances of a false alarm)."""
    from unmask_training.fusion_fit import feature_signs, video_oof

    rng = np.random.default_rng(3)
    y = np.array([i % 2 for i in range(40)])
    x = rng.normal(1.5 * y, 1.0)
    groups = np.array([f"g{i % 8}" for i in range(40)])
    X = x[:, None]
    names = ["a.x"]

    def rows(second_person: int) -> list[dict]:
        return [{"tracks": [{"id": 1, "person": 1, "n": 10, "features": {"a.x": float(v)}},
                            {"id": 2, "person": second_person, "n": 10, "features": {"a.x": float(v)}}]} for v in x]

    main, same_person, _ = video_oof(rows(1), names, X, y, groups, feature_signs(names))
    assert np.allclose(same_person, main)
    _, two_people, (mu, sd) = video_oof(rows(2), names, X, y, groups, feature_signs(names))
    assert np.all(two_people < main) and sd > 0
