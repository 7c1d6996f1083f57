"""BlendNet: a compact CPU-friendly CNN that scores blend artifacts in an aligned face.

Plain torch (no timm/torchvision) so training has one optional dependency.
MobileNetV2-style inverted residuals keep it near 1 M parameters, small enough
to run per face on two CPU threads. Two heads: a fake logit, and a Face X-ray
style boundary map from the stride-4 features, which gives the classifier a
dense, localised training signal and the report something to show.
Normalisation lives inside ``forward`` so the exported ONNX takes plain
0-255 RGB floats.

``highpass=True`` adds fixed high-pass residuals (SRM-style kernels on the
luminance) as extra input channels. A network trained from scratch sees image
content first and forensic traces late, if at all; steganalysis and
manipulation-detection networks (Fridrich & Kodovsky's SRM, RGB-N, Bayar &
Stamm) hand it the noise residual directly so the seam in noise level is
visible from the first step.
"""

from __future__ import annotations

import torch
from torch import nn

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

# (expansion, out channels, repeats, first stride) per stage, as in MobileNetV2 but trimmed.
_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (4, 24, 2, 2),  # stride 4 overall -> boundary head taps here
    (4, 40, 2, 2),
    (4, 80, 3, 2),
    (4, 128, 2, 1),
    (4, 192, 2, 2),
)


# Fixed 3x3 high-pass kernels (SRM family): second-order "KB", Laplacian, and a horizontal+vertical
# second difference pair summed as one edge-agnostic residual.
_HIGHPASS = (
    ((-1, 2, -1), (2, -4, 2), (-1, 2, -1)),
    ((0, 1, 0), (1, -4, 1), (0, 1, 0)),
    ((0, 0, 0), (1, -2, 1), (0, 0, 0)),
    ((0, 1, 0), (0, -2, 0), (0, 1, 0)),
)
_HIGHPASS_SCALE = 1.0 / 16.0  # residuals of 0-255 pixels are a few units: bring them near unit range


def _ch(c: float) -> int:
    """Round a scaled channel count to a multiple of 8 (cheap on CPU kernels)."""
    return max(8, int(c + 4) // 8 * 8)


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise 3x3 -> project (1x1), residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn(cin, hidden, 1))
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden), _conv_bn(hidden, cout, 1, act=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class BlendNet(nn.Module):
    """Face in (N,3,S,S) 0-255 RGB; out ``logit`` (N,) and ``boundary`` (N,1,S/4,S/4) logits."""

    def __init__(self, width: float = 1.0, highpass: bool = False) -> None:
        super().__init__()
        self.width = width
        self.highpass = highpass
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1) * 255.0)
        if highpass:  # buffers only when used, so plain BlendNet checkpoints keep their keys
            self.register_buffer("luma", torch.tensor((0.299, 0.587, 0.114)).view(1, 3, 1, 1))
            self.register_buffer("hp_kernels",
                                 torch.tensor(_HIGHPASS, dtype=torch.float32).unsqueeze(1) * _HIGHPASS_SCALE)
        cin = _ch(24 * width)
        self.stem = _conv_bn(3 + (len(_HIGHPASS) if highpass else 0), cin, 3, 2)
        stages: list[nn.Module] = []
        self.tap_channels = 0
        for i, (t, c, n, s) in enumerate(_STAGES):
            cout = _ch(c * width)
            blocks = [InvertedResidual(cin if j == 0 else cout, cout, s if j == 0 else 1, t) for j in range(n)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
            if i == 1:
                self.tap_channels = cout
        self.stages = nn.ModuleList(stages)
        head = _ch(512 * width)
        self.head = _conv_bn(cin, head, 1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(head, 1)
        # Boundary decoder: stride-4 detail features + upsampled stride-16 context.
        dec = _ch(48 * width)
        ctx_stage = _ch(_STAGES[3][1] * width)
        self.dec_low = _conv_bn(self.tap_channels, dec, 1)
        self.dec_ctx = _conv_bn(ctx_stage, dec, 1)
        self.dec_out = nn.Sequential(
            _conv_bn(dec, dec, 3, groups=dec), _conv_bn(dec, dec, 1), nn.Conv2d(dec, 1, 1)
        )
        self._init()

    def _init(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = (x - self.mean) / self.std
        if self.highpass:
            grey = (x * self.luma).sum(dim=1, keepdim=True)
            residual = nn.functional.conv2d(nn.functional.pad(grey, (1, 1, 1, 1), mode="replicate"), self.hp_kernels)
            rgb = torch.cat([rgb, residual.clamp(-3.0, 3.0)], dim=1)
        x = self.stem(rgb)
        low = ctx = x
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i == 1:
                low = x
            elif i == 3:
                ctx = x
        feat = self.head(x).mean(dim=(2, 3))
        logit = self.fc(self.dropout(feat)).squeeze(1)
        up = nn.functional.interpolate(self.dec_ctx(ctx), size=low.shape[-2:], mode="bilinear", align_corners=False)
        boundary = self.dec_out(self.dec_low(low) + up)
        return logit, boundary


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def architecture(highpass: bool) -> str:
    """The manifest's one-line description of a BlendNet."""
    return ARCHITECTURE + ("; input + 4 fixed SRM-style high-pass residuals of the luminance" if highpass else "")


ARCHITECTURE = ("BlendNet: MobileNetV2-style inverted residuals (6 stages, ReLU6, BatchNorm), GAP+linear fake logit, "
                "stride-4 boundary decoder")
