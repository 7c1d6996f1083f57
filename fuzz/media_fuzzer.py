"""Coverage-guided fuzzing of probe, the frame reader and the audio reader with atheris (``make fuzz``).

    python fuzz/media_fuzzer.py CORPUS_DIR SEED_DIR -max_total_time=1800 -rss_limit_mb=2048 -timeout=20

libFuzzer's flags pass through. unmask's modules are instrumented for coverage (FFmpeg and
Pillow's C code are not: the fuzzer is guided by which Python paths an input reaches). A crash
(any exception but an InputError), a timeout or a memory blow-up stops the run and leaves its
input under -artifact_prefix; keep it in tests/data/fuzz/ as a regression test. docs/fuzzing.md
says what runs found.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["unmask", "media_target"]):
    import media_target


def test_one_input(data: bytes) -> None:
    media_target.check_input(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
