"""BlendNet shapes and a few-step training run that writes every artifact."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from unmask.errors import UnmaskError  # noqa: E402
from unmask_training.learned.augment import (  # noqa: E402
    PATCH_SEAM_MIN,
    at_native_scale,
    crop_resize,
    damage_strength,
    degrade,
    random_patch,
)
from unmask_training.learned.model import BlendNet, count_parameters  # noqa: E402
from unmask_training.learned.train import TrainConfig, train  # noqa: E402

torch.set_flush_denormal(True)
torch.set_num_threads(2)
S = 64


@dataclass(frozen=True)
class _Sample:
    image: np.ndarray
    label: int
    boundary: np.ndarray


def stub_sample(face: np.ndarray, lm: np.ndarray, rng: np.random.Generator, p_fake: float = 0.5) -> _Sample:
    """A brightened blurred ellipse pasted in the middle: enough of a 'blend' for plumbing tests."""
    import cv2

    h, w = face.shape[:2]
    if rng.random() >= p_fake:
        return _Sample(face.copy(), 0, np.zeros((h, w), np.float32))
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (w // 2, h // 2), (w // 4, h // 3), 0, 0, 360, 1.0, -1)
    m = cv2.GaussianBlur(m, (0, 0), 3)
    out = face * (1 - m[..., None]) + np.clip(face * 1.3, 0, 255) * m[..., None]
    b = 4 * m * (1 - m)
    return _Sample(out.astype(np.uint8), 1, (b / max(b.max(), 1e-6)).astype(np.float32))


@dataclass(frozen=True)
class _Faces:
    images: np.ndarray
    landmarks: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    sources: np.ndarray
    native: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def synthetic_faces(n: int, label: int, seed: int) -> _Faces:
    rng = np.random.default_rng(seed)
    imgs = rng.integers(60, 200, (n, S, S, 3), dtype=np.uint8)
    groups = np.array([f"g{i % 4}" for i in range(n)])
    return _Faces(imgs, np.zeros((n, 478, 2), np.float32), np.full(n, label, np.int8), groups,
                  np.array([f"{g}/v{i % 8}.mp4" for i, g in enumerate(groups)]),
                  np.where(np.arange(n) % 2 == 0, 0.5, 1.2).astype(np.float32))  # half upscaled, half not


def test_samples_are_made_at_native_scale() -> None:
    """A face upscaled 2x into its crop is blended at half size and comes back at crop size, label kept."""
    face = np.random.default_rng(0).integers(0, 255, (S, S, 3), dtype=np.uint8)
    lm = np.zeros((478, 2), np.float32)
    seen: list[int] = []

    def sample(f: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, p: float) -> _Sample:
        seen.append(f.shape[0])
        return stub_sample(f, landmarks, rng, 1.0)

    img, label, bmap = at_native_scale(face, lm, 0.5, np.random.default_rng(1), sample, 1.0, augment=True)
    assert seen == [max(48, S // 2)] and seen[0] < S and label == 1 and img.shape == (S, S, 3) and bmap.shape == (S, S)
    img2, _, _ = at_native_scale(face, lm, 1.3, np.random.default_rng(1), sample, 1.0, augment=False)
    assert seen[-1] == S and img2.shape == (S, S, 3)


def test_forward_shapes_and_size() -> None:
    m = BlendNet().eval()
    assert 0.5e6 <= count_parameters(m) <= 1.5e6
    with torch.no_grad():
        logit, boundary = m(torch.rand(2, 3, 128, 128) * 255)
    assert logit.shape == (2,)
    assert boundary.shape == (2, 1, 32, 32)
    with torch.no_grad():
        logit, boundary = m(torch.rand(1, 3, 64, 64) * 255)
    assert logit.shape == (1,) and boundary.shape == (1, 1, 16, 16)


def test_augmentations_keep_shapes_and_are_seeded() -> None:
    face = np.random.default_rng(0).integers(0, 255, (S, S, 3), dtype=np.uint8)
    b = np.zeros((S, S), np.float32)
    a1 = [crop_resize(degrade(face, r), b, 32, r) for r in [np.random.default_rng(3)]][0]
    a2 = [crop_resize(degrade(face, r), b, 32, r) for r in [np.random.default_rng(3)]][0]
    assert a1[0].shape == (32, 32, 3) and a1[0].dtype == np.uint8 and a1[1].shape == (8, 8)
    assert np.array_equal(a1[0], a2[0])


def test_micro_training_writes_artifacts(tmp_path: Path) -> None:
    real = synthetic_faces(40, 0, 1)
    fake = synthetic_faces(12, 1, 2)
    cfg = TrainConfig(size=32, batch=8, epochs=1, max_minutes=1.0)
    msgs: list[str] = []
    metrics = train(real, fake, cfg, tmp_path, msgs.append, sample_fn=stub_sample)  # type: ignore[arg-type]
    for name in ("loss.csv", "metrics.json", "blend_cnn.onnx", "blend_cnn.json"):
        assert (tmp_path / name).is_file(), name
    rows = list(csv.DictReader((tmp_path / "loss.csv").read_text().splitlines()))
    assert rows and set(rows[0]) == {"step", "epoch", "loss", "cls_loss", "map_loss", "lr"}
    man = json.loads((tmp_path / "blend_cnn.json").read_text())
    assert man["sha256"] == hashlib.sha256((tmp_path / "blend_cnn.onnx").read_bytes()).hexdigest()
    assert man["input"]["size"] == 32 and man["name"] == "blend_cnn"
    assert metrics["best_epoch"] == 0 and metrics["epochs"][0]["fake_auc"] is not None
    assert metrics["epochs"][0]["fake_auc_val_groups"] is not None  # fake groups overlap the held-out groups
    assert (tmp_path / "blend_cnn.onnx").stat().st_size < 20e6
    assert json.loads((tmp_path / "metrics.json").read_text())["data"]["train"]
    assert msgs


def test_training_is_deterministic_given_seed(tmp_path: Path) -> None:
    real = synthetic_faces(24, 0, 3)
    cfg = TrainConfig(size=32, batch=8, epochs=2, max_minutes=5.0, seed=7)
    m1 = train(real, None, cfg, tmp_path / "a", sample_fn=stub_sample)  # type: ignore[arg-type]
    m2 = train(real, None, cfg, tmp_path / "b", sample_fn=stub_sample)  # type: ignore[arg-type]
    assert len(m1["epochs"]) == 2 and m1["planned_epochs"] == 2
    assert (tmp_path / "a" / "loss.csv").read_text() == (tmp_path / "b" / "loss.csv").read_text()
    assert [e["pseudo_auc"] for e in m1["epochs"]] == [e["pseudo_auc"] for e in m2["epochs"]]


def test_batch_workers_give_the_same_run_as_one_process(tmp_path: Path) -> None:
    """Each batch has its own seed, so the pool of self-blend workers (a GPU machine's spare cores) changes nothing."""
    real = synthetic_faces(24, 0, 3)
    base = TrainConfig(size=32, batch=8, epochs=1, max_minutes=5.0, seed=5)
    train(real, None, base, tmp_path / "a", sample_fn=stub_sample)  # type: ignore[arg-type]
    train(real, None, dataclasses.replace(base, workers=2), tmp_path / "b", sample_fn=stub_sample)  # type: ignore[arg-type]
    assert (tmp_path / "a" / "loss.csv").read_text() == (tmp_path / "b" / "loss.csv").read_text()


def test_device_is_checked_before_training(tmp_path: Path) -> None:
    real = synthetic_faces(8, 0, 2)
    with pytest.raises(UnmaskError, match="device must be"):
        train(real, None, TrainConfig(size=32, device="tpu"), tmp_path, sample_fn=stub_sample)  # type: ignore[arg-type]
    with pytest.raises(UnmaskError, match="workers"):
        train(real, None, TrainConfig(size=32, workers=-1), tmp_path, sample_fn=stub_sample)  # type: ignore[arg-type]
    if not torch.cuda.is_available():
        with pytest.raises(UnmaskError, match="no GPU"):
            train(real, None, TrainConfig(size=32, device="cuda"), tmp_path, sample_fn=stub_sample)  # type: ignore[arg-type]



def test_highpass_net_has_the_same_outputs_and_old_checkpoints_still_load() -> None:
    hp = BlendNet(highpass=True).eval()
    with torch.no_grad():
        logit, boundary = hp(torch.rand(2, 3, 64, 64) * 255)
    assert logit.shape == (2,) and boundary.shape == (2, 1, 16, 16)
    plain = BlendNet()
    assert not any(k.startswith(("luma", "hp_kernels")) for k in plain.state_dict())  # old state dicts still fit
    plain.load_state_dict(BlendNet().state_dict())


def test_damage_curriculum_ramps_and_zero_means_full_damage() -> None:
    assert damage_strength(0, 100, 0.0) == 1.0 and damage_strength(99, 100, 0.0) == 1.0
    assert damage_strength(0, 100, 0.5) == 0.0
    assert damage_strength(25, 100, 0.5) == pytest.approx(0.5)
    assert damage_strength(80, 100, 0.5) == 1.0
    face = np.random.default_rng(0).integers(0, 255, (S, S, 3), dtype=np.uint8)
    assert np.array_equal(degrade(face, np.random.default_rng(1), strength=0.0), face)  # no damage at strength 0


def test_patches_keep_full_resolution_and_are_fake_only_on_the_seam() -> None:
    img = np.random.default_rng(0).integers(0, 255, (S, S, 3), dtype=np.uint8)
    seam = np.zeros((S, S), np.float32)
    seam[:, :4] = 1.0  # a seam only along the left edge
    rng = np.random.default_rng(2)
    seen = set()
    for _ in range(40):
        p, bmap, has_seam = random_patch(img, seam, 32, rng)
        assert p.shape == (32, 32, 3) and bmap.shape == (8, 8)
        assert has_seam == bool(bmap.max() > 0)  # the label follows the crop's own boundary
        seen.add(has_seam)
    assert seen == {True, False}
    assert random_patch(img, np.zeros((S, S), np.float32), 32, rng)[2] is False
    assert PATCH_SEAM_MIN > 0
    with pytest.raises(UnmaskError, match="larger than the face"):
        random_patch(img, seam, S + 4, rng)


def test_new_training_options_are_validated_and_run(tmp_path: Path) -> None:
    real = synthetic_faces(24, 0, 3)
    with pytest.raises(UnmaskError, match="val_groups not among"):
        train(real, None, TrainConfig(size=32, val_groups=("nope",)), tmp_path, sample_fn=stub_sample)  # type: ignore[arg-type]
    with pytest.raises(UnmaskError, match="every real face"):
        train(real, None, TrainConfig(size=32, val_groups=("g0", "g1", "g2", "g3")), tmp_path,
              sample_fn=stub_sample)  # type: ignore[arg-type]
    with pytest.raises(UnmaskError, match="patch must be"):
        train(real, None, TrainConfig(size=32, patch=48), tmp_path, sample_fn=stub_sample)  # type: ignore[arg-type]
    with pytest.raises(UnmaskError, match="curriculum"):
        train(real, None, TrainConfig(size=32, curriculum=1.5), tmp_path, sample_fn=stub_sample)  # type: ignore[arg-type]
    cfg = TrainConfig(size=64, batch=8, epochs=1, max_minutes=2.0, patch=32, curriculum=0.5, highpass=True,
                      val_groups=("g3",))
    m = train(real, None, cfg, tmp_path / "run", sample_fn=stub_sample)  # type: ignore[arg-type]
    assert m["epochs"] and (tmp_path / "run" / "blend_cnn.onnx").is_file()
    man = json.loads((tmp_path / "run" / "blend_cnn.json").read_text())
    assert "high-pass" in man["architecture"] and man["data"]["val"]["groups"] == {"g3": 6}


def test_polar_arch_trains_on_outline_strips_and_exports(tmp_path: Path) -> None:
    from unmask.learned.polar import N_ANGLES, N_RADII

    real = synthetic_faces(24, 0, 3)
    t = np.linspace(0, 2 * np.pi, 478, endpoint=False)
    ring = np.stack([S / 2 + 20 * np.cos(t), S / 2 + 24 * np.sin(t)], axis=1).astype(np.float32)
    real = dataclasses.replace(real, landmarks=np.stack([ring] * len(real)))
    with pytest.raises(UnmaskError, match="arch must be"):
        train(real, None, TrainConfig(size=32, arch="vit"), tmp_path, sample_fn=stub_sample)  # type: ignore[arg-type]
    with pytest.raises(UnmaskError, match="blendnet arch only"):
        train(real, None, TrainConfig(size=32, arch="polar", highpass=True), tmp_path,
              sample_fn=stub_sample)  # type: ignore[arg-type]
    cfg = TrainConfig(size=64, batch=8, epochs=1, max_minutes=2.0, arch="polar", val_groups=("g3",))
    m = train(real, None, cfg, tmp_path / "run", sample_fn=stub_sample)  # type: ignore[arg-type]
    assert m["epochs"][0]["pseudo_auc"] is not None and m["params"] < 200_000
    man = json.loads((tmp_path / "run" / "blend_cnn.json").read_text())
    assert man["input"]["kind"] == "polar" and man["input"]["shape"] == [N_RADII, N_ANGLES]
    assert man["input"]["size"] == S  # the aligned face side the strip is unwrapped from
    assert man["architecture"].startswith("PolarNet")


def test_bad_training_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from unmask_training.learned.train_cli import main

    assert main([str(tmp_path / "missing.csv"), "--out", str(tmp_path / "run"), "--cache", str(tmp_path), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    missing = tmp_path / "missing.onnx"  # refused before any cache is read
    assert main([str(tmp_path / "missing.npz"), "--out", str(tmp_path / "run"), "--init", str(missing), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--init" in err and "\n" not in err
