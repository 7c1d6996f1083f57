#!/usr/bin/env bash
# Train BlendNet on a GPU machine (the `device` tool), or anywhere, from a face pack only.
#
# Here:   make facepack                        # .facepack/: JPEG-coded face caches + manifest, ~40 MB
# Device: run(command="bash benchmarks/device_train.sh", carry=[".facepack"], timeout_s=600)
#         Everything the run writes lands in $OUT/run (ONNX, manifest, metrics, loss curve, evaluation).
# CPU smoke test: PY=.venv/bin/python MINUTES=0.3 OUT=/tmp/dt SIZE=64 bash benchmarks/device_train.sh
# EXTRA passes more training options, e.g. EXTRA="--arch polar --p-real-transformed 0.3 --val-groups G1,G2".
#
# That machine has torch, numpy, OpenCV, scikit-learn and onnxruntime but not PyAV, mediapipe or dlib,
# which training does not need; the package runs from src/ without being installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python3}"
OUT="${OUT:-train-runs/device}"
MINUTES="${MINUTES:-7}"
SIZE="${SIZE:-256}"
BATCH="${BATCH:-64}"
WORKERS="${WORKERS:-$(( $(nproc) > 1 ? $(nproc) - 1 : 0 ))}"
EXTRA="${EXTRA:-}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
[ -f .facepack/faces-real.npz ] || { echo "no .facepack/faces-real.npz: run 'make facepack' first" >&2; exit 2; }
"$PY" -c "import torch" 2>/dev/null || { echo "$PY has no torch: set PY (e.g. PY=.venv/bin/python after make train)" >&2; exit 2; }
mkdir -p "$OUT/run"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
"$PY" -m unmask_training.learned.train_cli .facepack/faces-real.npz --out "$OUT/run" --device auto --workers "$WORKERS" \
  --size "$SIZE" --batch "$BATCH" --minutes "$MINUTES" --epochs 1000 --seed 0 $EXTRA 2>&1 | tee "$OUT/run/train.log"
"$PY" -m unmask_training.learned.evaluate "$OUT/run" --cache .facepack --manifest .facepack/manifest.csv >/dev/null
echo "wrote $OUT/run: $(ls "$OUT/run" | tr '\n' ' ')"
