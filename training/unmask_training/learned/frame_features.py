"""Frozen ImageNet features of face views, per frame: the input of a temporal animation head.

A talking head is one photo moved: its per-frame appearance drifts less than a real face's once the
pose is accounted for. A pretrained backbone summarises each view's texture at several scales
(low-level edges and noise, mid-level parts, high-level face appearance), cheaply enough to run on
every 4 fps view, and a small head over the window's feature sequence
(:mod:`unmask_training.learned.feature_dynamics`) reads how the appearance changes.

The views are prepared exactly as the swap detector's (``runtime.crop_views(views, 1.5, 1.3, 160)``
of 256 px ``face_view`` crops), so one MobileNetV2 forward pass could serve both if its ONNX
exported pooled features next to ``logit`` and ``cam``. Nothing is trained here: the backbone is
frozen, in eval mode, with weights verified by :mod:`unmask_training.learned.backbones`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unmask.errors import ModelError, UnmaskError


class BadFrameInput(UnmaskError, ValueError):
    """Views or settings the frame encoder cannot take."""


#: MobileNetV2 ``features`` indices whose outputs are average-pooled: the last 32-channel block (stride 8),
#: the last 96-channel block (stride 16) and the 1280-channel head convolution (stride 32)
MOBILENET_TAPS: tuple[int, ...] = (6, 13, 18)
MOBILENET_WIDTHS: tuple[int, ...] = (32, 96, 1280)


@dataclass(frozen=True)
class EncoderConfig:
    """Which backbone, and how a 256 px face view becomes its input."""

    arch: str = "mobilenetv2"  # or "efficientnet-lite0" (pooled head features only)
    size: int = 160
    view_zoom: float = 1.5
    crop_zoom: float = 1.3
    batch: int = 32

    def __post_init__(self) -> None:
        if self.arch not in ("mobilenetv2", "efficientnet-lite0"):
            raise BadFrameInput(f"arch must be mobilenetv2 or efficientnet-lite0, got {self.arch!r}")
        if self.size % 32 or self.size < 64:
            raise BadFrameInput(f"size must be a multiple of 32 and at least 64, got {self.size}")
        if not (0 < self.crop_zoom <= self.view_zoom):
            raise BadFrameInput(f"crop_zoom must be in (0, view_zoom], got {self.crop_zoom}")
        if self.batch < 1:
            raise BadFrameInput(f"batch must be positive, got {self.batch}")

    @property
    def widths(self) -> tuple[int, ...]:
        """Channels of each pooled tap, in the order :meth:`FrameEncoder.encode` concatenates them."""
        return MOBILENET_WIDTHS if self.arch == "mobilenetv2" else (1280,)


class FrameEncoder:
    """N face views (N x S x S x 3 uint8 RGB, ``face_view`` crops) -> N x D float32 pooled features."""

    def __init__(self, config: EncoderConfig | None = None, pretrained: bool = True) -> None:
        try:
            import torch
        except ImportError:
            raise ModelError("the frame encoder needs torch: pip install torch==2.13.0 (or make train-deps)") from None

        from unmask_training.learned.backbones import build

        self.config = config or EncoderConfig()
        net = build(self.config.arch, self.config.size, pretrained=pretrained)
        net.eval()
        self._net = net
        self._torch = torch

    @property
    def dim(self) -> int:
        return int(sum(self.config.widths))

    def encode(self, views: np.ndarray) -> np.ndarray:
        """Pooled features of every view, taps concatenated (see :attr:`EncoderConfig.widths`)."""
        from unmask.learned.runtime import crop_views

        views = np.asarray(views)
        if views.ndim != 4 or views.shape[1] != views.shape[2] or views.shape[3] != 3 or views.dtype != np.uint8:
            raise BadFrameInput(f"expected N x S x S x 3 uint8 face views, got {views.shape} {views.dtype}")
        c = self.config
        torch = self._torch
        out = np.empty((len(views), self.dim), np.float32)
        with torch.no_grad():
            for s in range(0, len(views), c.batch):
                crops = crop_views(views[s:s + c.batch], c.view_zoom, c.crop_zoom, c.size)
                x = torch.from_numpy(np.ascontiguousarray(crops.transpose(0, 3, 1, 2))).float()
                x = (x - self._net.mean) / self._net.std
                out[s:s + len(crops)] = self._pooled(x).numpy()
        return out

    def _pooled(self, x):  # noqa: ANN001, ANN202 (torch types)
        feats = self._net.features
        if self.config.arch != "mobilenetv2":
            return feats(x).mean(dim=(2, 3))
        pooled = []
        for i, layer in enumerate(feats.features):
            x = layer(x)
            if i in MOBILENET_TAPS:
                pooled.append(x.mean(dim=(2, 3)))
        return self._torch.cat(pooled, dim=1)
