"""Inputs the fuzzer found crashing the input layer (``make fuzz``, docs/fuzzing.md), kept as regression tests.

Each file in tests/data/fuzz/ is a fuzzer input (a suffix byte, then the file's bytes). Read as
``make fuzz`` reads it, it must be refused in one line (an ``InputError``) or read; any other
exception is the bug coming back. The seed generator itself runs too, so ``make fuzz`` cannot rot.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fuzz"))

import media_target  # noqa: E402

CASES = sorted((ROOT / "tests" / "data" / "fuzz").glob("*"))


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_a_saved_fuzzer_input_is_refused_or_read(case: Path, tmp_path: Path) -> None:
    assert media_target.check_input(case.read_bytes(), tmp_path) in ("refused", "read")


def test_the_seed_corpus_is_made_and_handled(tmp_path: Path) -> None:
    import make_seeds

    made = make_seeds.seeds(tmp_path)
    assert len(made) >= 60 and sum(len(d) for _, d in made) < 3_000_000
    outcomes = {name: media_target.check_input(data, tmp_path / "work") for name, data in made[::7]}
    assert set(outcomes.values()) <= {"refused", "read"} and "read" in outcomes.values()
