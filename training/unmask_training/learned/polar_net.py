"""PolarNet: a ~90 k-parameter CNN over the polar strip of a face's outline band (``learned.polar``).

Columns are angles around the face, so convolutions wrap around them
(circular padding) and replicate at the inner and outer radius. Each image is
centred on its own mean colour inside ``forward``: a swap's colour transfer
makes the inside differ from the outside, not the whole face from a
reference. The logit reads the strongest and the average evidence along the
strip; the second output is the class activation map (the classifier's
weights applied at every place of the last features), a coarse map of where
along the outline the network sees a seam, for the report. Normalisation is
inside ``forward`` so the exported ONNX takes plain 0-255 RGB floats.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int | tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 0, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 0, 0), mode="circular")  # angles wrap around the face
        x = F.pad(x, (0, 0, 1, 1), mode="replicate")  # radii do not
        return F.relu(self.bn(self.conv(x)))


class PolarNet(nn.Module):
    """Strip (N, 3, 48, 128) in 0-255 -> (fake logit (N,), seam activation map (N, 1, 6, 8))."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _Block(3, w, (1, 2)), _Block(w, 2 * w, 2), _Block(2 * w, 2 * w, 1), _Block(2 * w, 3 * w, 2),
            _Block(3 * w, 4 * w, 2), _Block(4 * w, 4 * w, 1),
        )
        self.fc = nn.Linear(4 * w, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x / 127.5 - 1.0
        x = x - x.mean(dim=(2, 3), keepdim=True)
        h = self.features(x)
        logit = self.fc(0.5 * h.amax(dim=(2, 3)) + 0.5 * h.mean(dim=(2, 3))).squeeze(1)
        cam = torch.einsum("nchw,c->nhw", h, self.fc.weight[0]).unsqueeze(1) + self.fc.bias
        return logit, cam


ARCHITECTURE = ("PolarNet: 6 conv-BN-ReLU blocks over the polar strip of the face-outline band "
                "(circular padding along angles), max+mean pooled linear fake logit, class-activation seam map")
