"""The inference package stands alone: no torch, no training code, no training commands."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import unmask
from unmask.cli import _parser


def test_importing_every_unmask_module_loads_neither_torch_nor_training_code() -> None:
    # alembic's env.py runs a migration when imported: it is alembic's to load, not ours
    names = sorted(m.name for m in pkgutil.walk_packages(unmask.__path__, "unmask.")
                   if m.name != "unmask.store.migrations.env")
    assert {"unmask.cli", "unmask.bench", "unmask.faces.warp", "unmask.learned.runtime"} <= set(names)
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}:\n"
        "    importlib.import_module(n)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'unmask_training', 'onnx')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", ["train", "fit-fusion"])
def test_the_product_cli_has_no_training_commands(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        _parser().parse_args([command, "--help"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bench_perturb_moved_to_unmask_train(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["bench", "m.csv", "--out", "x", "--perturb", "crf30"])
    assert "unrecognized arguments: --perturb" in capsys.readouterr().err


def test_unmask_train_runs_as_a_module_with_its_four_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "unmask_training", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    for command in ("train", "fit-fusion", "bench-perturbed", "benchdoc"):
        assert command in done.stdout


def test_unmask_train_errors_are_one_line(tmp_path: Path) -> None:
    args = ["bench-perturbed", "nosuch", str(tmp_path / "m.csv"), "--out", str(tmp_path / "out")]
    done = subprocess.run([sys.executable, "-m", "unmask_training", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["unmask-train: error: unknown perturbation 'nosuch'; known: "
                                                "crf23, crf30, crf35, 360p, flip, phone, beauty"]
