"""Learned convex upsampling of low-resolution logits.

Not part of CARIS, which upsamples its stride-4 logits bilinearly. At a
small input (the CPU demo: 32x32 logits for a 128x128 image, objects of
15-45 px) the bilinear upsample caps the mask quality: a star's spikes and
a triangle's corners fall between the logit cells. Here every output
pixel is a convex combination of the 3x3 coarse cells around its own cell,
with weights predicted from the decoder's features (as in RAFT's flow
upsampling, Teed and Deng, 2020), so the boundary can follow what the
features see inside a cell. The weights start as those of bilinear
interpolation (``align_corners=False``), so an untrained upsampler gives
the bilinear logits.
"""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmris.registry import MODELS

#: Added to the bilinear weights before their log, so that zero weights
#: get a finite logit; the initial weights then differ from bilinear by
#: at most about this much.
_LOG_EPS = 1e-4


def bilinear_taps(scale: int) -> Tensor:
    """Weights of the 3 coarse cells (left, own, right) for each of the
    ``scale`` sub-pixels of a cell, bilinear with ``align_corners=False``.

    Returns:
        Tensor: [scale, 3]; each row sums to 1.
    """
    offset = (torch.arange(scale, dtype=torch.float64) + 0.5) / scale - 0.5
    return torch.stack(
        [(-offset).clamp(min=0), 1 - offset.abs(),
         offset.clamp(min=0)], dim=1)


@MODELS.register_module()
class ConvexUpsample(BaseModule):
    """Upsample ``[B, C, h, w]`` logits by ``scale`` with learned weights.

    Args:
        guide_channels (int): Channels of the feature map, at the logits'
            resolution, that predicts the weights.
        scale (int): Upsampling factor (4 for CARIS's stride-4 logits).
        init_cfg (dict, optional): mmengine init config; without one the
            weight predictor starts at zero weights and bilinear biases.
    """

    def __init__(self,
                 guide_channels: int,
                 scale: int = 4,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if scale < 1:
            raise ValueError(f'scale must be >= 1, got {scale}')
        self.scale = scale
        self.weight_pred = nn.Conv2d(guide_channels, 9 * scale * scale, 1)
        self._init_bilinear()

    def _init_bilinear(self) -> None:
        taps = bilinear_taps(self.scale)  # [s, 3]
        # [3 (dy), 3 (dx), s (sy), s (sx)]: outer product of the 1D taps.
        weights = torch.einsum('ya,xb->abyx', taps, taps)
        nn.init.zeros_(self.weight_pred.weight)
        with torch.no_grad():
            self.weight_pred.bias.copy_(
                (weights + _LOG_EPS).log().reshape(-1).float())

    def init_weights(self) -> None:
        """Keep the bilinear start unless an ``init_cfg`` says otherwise."""
        if self.init_cfg is None:
            self._is_init = True
            return
        super().init_weights()

    def forward(self, logits: Tensor, guide: Tensor) -> Tensor:
        """Args:
            logits (Tensor): [B, C, h, w].
            guide (Tensor): [B, guide_channels, h, w].

        Returns:
            Tensor: [B, C, h * scale, w * scale].
        """
        batch, channels, height, width = logits.shape
        if guide.shape[-2:] != logits.shape[-2:]:
            raise ValueError(f'guide {tuple(guide.shape)} and logits '
                             f'{tuple(logits.shape)} must share h and w')
        s = self.scale
        weights = self.weight_pred(guide).view(batch, 1, 9, s, s, height,
                                               width)
        weights = weights.float().softmax(dim=2)
        # Replicate padding: at the border the missing neighbours take the
        # edge value, as bilinear interpolation does.
        padded = F.pad(logits.float(), (1, 1, 1, 1), mode='replicate')
        neighbours = F.unfold(padded, kernel_size=3).view(
            batch, channels, 9, 1, 1, height, width)
        fine = (weights * neighbours).sum(dim=2)  # [B, C, s, s, h, w]
        fine = fine.permute(0, 1, 4, 2, 5, 3)  # [B, C, h, s, w, s]
        return fine.reshape(batch, channels, height * s,
                            width * s).to(logits.dtype)
