"""Export resemblyzer's pretrained speaker encoder to ONNX, once, for the package (needs torch; scans do not).

``python -m unmask_training.voice.export`` reads ``resemblyzer/pretrained.pt`` from an
installed ``resemblyzer==0.1.4`` wheel (GE2E, Apache-2.0), rebuilds its
network (3-layer LSTM 40 → 256, linear 256 → 256, ReLU, L2 norm) in plain
torch, exports it with a dynamic batch of 160-frame (1.6 s) mel windows, and
writes ``models/voice_encoder.onnx`` and its manifest (sha256, source file
hash, reproduce command). The export is checked against resemblyzer's own
forward pass before anything is written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from unmask.voice.mel import HOP, N_FFT, N_MELS, RATE

PARTIAL_FRAMES = 160
SOURCE = "resemblyzer==0.1.4"
COMMAND = ("pip install --no-deps resemblyzer==0.1.4 && pip install torch==2.13.0 onnx==1.17.0 && "
           "python -m unmask_training.voice.export")


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def export(out_dir: Path) -> dict[str, Any]:
    import importlib.util

    import torch
    from torch import nn

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or spec.origin is None:
        raise SystemExit("resemblyzer is not installed: pip install --no-deps resemblyzer==0.1.4")
    weights = Path(spec.origin).parent / "pretrained.pt"

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            e = torch.relu(self.linear(hidden[-1]))
            return e / torch.norm(e, dim=1, keepdim=True).clamp_min(1e-12)

    state = torch.load(weights, map_location="cpu", weights_only=False)["model_state"]
    net = Encoder()
    net.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity_")}, strict=True)
    net.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "voice_encoder.onnx"
    dummy = torch.randn(2, PARTIAL_FRAMES, N_MELS).abs()
    torch.onnx.export(net, (dummy,), str(onnx_path), input_names=["mels"], output_names=["embedding"],
                      dynamic_axes={"mels": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=17, dynamo=False)
    # check: onnxruntime against torch on mel windows of a synthetic voice-like signal
    import onnxruntime as ort

    from unmask.voice.mel import mel_spectrogram

    rng = np.random.default_rng(0)
    t = np.arange(RATE * 4) / RATE
    wav = (0.2 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 4 * t)) + 0.02 * rng.standard_normal(len(t)))
    mel = mel_spectrogram(wav.astype(np.float32))
    batch = np.stack([mel[i:i + PARTIAL_FRAMES] for i in (0, 100, 200)]).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(batch)).numpy()
    got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"mels": batch})[0]
    err = float(np.abs(ref - got).max())
    if err > 1e-4:
        raise SystemExit(f"ONNX export differs from torch by {err}")
    manifest = {
        "name": "voice_encoder",
        "sha256": _sha256(onnx_path),
        "architecture": "GE2E speaker encoder (Wan et al. 2018): 3-layer LSTM 40->256, linear 256->256, ReLU, L2 norm",
        "source": {"package": SOURCE, "file": "resemblyzer/pretrained.pt", "sha256": _sha256(weights),
                   "license": "Apache-2.0 (resemblyzer, Resemble AI)"},
        "input": {"name": "mels", "shape": ["batch", PARTIAL_FRAMES, N_MELS], "rate": RATE, "n_fft": N_FFT,
                  "hop": HOP, "n_mels": N_MELS,
                  "features": "unmask.voice.mel.mel_spectrogram (= librosa.feature.melspectrogram, power 2, Slaney)"},
        "output": {"name": "embedding", "shape": ["batch", 256], "meaning": "L2-normalised speaker embedding"},
        "export": {"torch": torch.__version__, "opset": 17, "max_abs_diff_vs_torch": err},
        "reproduce": COMMAND,
    }
    (out_dir / "voice_encoder.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "models")
    args = ap.parse_args(argv)
    m = export(args.out)
    diff = m["export"]["max_abs_diff_vs_torch"]
    print(f"wrote {args.out / 'voice_encoder.onnx'} sha256 {m['sha256']} (max diff vs torch {diff:.2e})")


if __name__ == "__main__":
    main()
