# Two set-up commands for a fresh machine: `make demo` and `make test`.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DATA    ?= ../shared/data/manifest.csv
VIDEO   ?=
BENCH   ?= bench

.PHONY: install demo test test-slow bench bench-crf30 fit-fusion eval-reference eval-lipsync train facepack clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "needs $(PY)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip<26"
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m unmask.demo $(VIDEO)

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/unmask bench $(DATA) --out $(BENCH)
	$(BIN)/python -m unmask.benchdoc $(BENCH) docs/benchmarks.md

# re-encoded copies of the dev videos: the fusion learns that compression is not manipulation
bench-crf30: $(STAMP)
	$(BIN)/unmask bench $(DATA) --out $(BENCH)-crf30 --perturb crf30 --no-speed

fit-fusion: $(STAMP)
	$(BIN)/unmask fit-fusion $(BENCH) $(BENCH)-crf30 --out src/unmask/models/fusion.json

# reference mode and lip sync on the dev data (docs/reference-benchmarks.md); FIT=1 rewrites models/reference.json
eval-reference: $(STAMP)
	$(BIN)/python benchmarks/reference_eval.py $(DATA) --out $(BENCH)-reference --timing $(if $(FIT),--fit src/unmask/models/reference.json,)

# three training-free lower-face cues for lip-sync fakes, measured (docs/reference-benchmarks.md, "Lip sync")
eval-lipsync: $(STAMP)
	$(BIN)/python benchmarks/lipsync_cues.py $(DATA) --out $(BENCH)-lipsync

$(VENV)/.train-installed: $(STAMP)
	$(BIN)/pip install -q -e ".[test,train]"
	touch $@

train: $(VENV)/.train-installed
	$(BIN)/unmask train $(DATA) --out train-runs/latest

# what a GPU machine needs to train (benchmarks/device_train.sh): JPEG-coded face caches + manifest, ~40 MB
facepack: $(STAMP)
	$(BIN)/python -m unmask.learned.dataset pack .facepack --manifest $(DATA)

clean:
	rm -rf $(VENV) $(BENCH) .pytest_cache
