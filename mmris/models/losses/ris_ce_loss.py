"""The CARIS segmentation loss: class-weighted 2-way cross-entropy."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmris.registry import MODELS


@MODELS.register_module()
class RISCrossEntropyLoss(nn.Module):
    """Weighted cross-entropy of referring logits against a binary mask.

    The low-resolution logits ``[B, C, h, w]`` are upsampled bilinearly
    (``align_corners=True``, as the reference) to the size of the ground
    truth ``[B, H, W]`` and compared pixel by pixel. PyTorch's weighted
    ``mean`` divides by the sum of the pixel weights, not by the pixel
    count:

        L = sum_p w[y_p] * -log softmax(z_p)[y_p] / sum_p w[y_p]

    With ``class_weight=(0.9, 1.1)`` this is CARIS's only loss (spec
    caris.md section 2). It is computed in fp32 whatever the logits' dtype,
    so fp16 training does not lose precision in the log-softmax.

    Args:
        class_weight (Sequence[float]): Weight of background, referent.
        align_corners (bool): ``align_corners`` of the upsampling.
        ignore_index (int): Ground-truth value excluded from the loss
            (mmseg's 255 convention for padding).
        loss_weight (float): Multiplier of the loss.
        loss_name (str): Key of the loss in the segmentor's loss dict; must
            start with ``loss_`` to be back-propagated by mmengine.
    """

    def __init__(self,
                 class_weight: Sequence[float] = (0.9, 1.1),
                 align_corners: bool = True,
                 ignore_index: int = 255,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce') -> None:
        super().__init__()
        if not loss_name.startswith('loss_'):
            raise ValueError(f'loss_name must start with "loss_" so that '
                             f'mmengine back-propagates it; got {loss_name}')
        self.register_buffer(
            'class_weight',
            torch.tensor(class_weight, dtype=torch.float32),
            persistent=False)
        self.align_corners = align_corners
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Args: logits ``[B, C, h, w]``; target ``[B, H, W]`` (int)."""
        if target.dim() == 4:
            target = target.squeeze(1)
        if logits.shape[1] != self.class_weight.numel():
            raise ValueError(
                f'logits have {logits.shape[1]} channels but class_weight '
                f'has {self.class_weight.numel()} entries')
        logits = logits.float()
        if logits.shape[-2:] != target.shape[-2:]:
            logits = F.interpolate(
                logits,
                size=target.shape[-2:],
                mode='bilinear',
                align_corners=self.align_corners)
        loss = F.cross_entropy(
            logits,
            target.long(),
            weight=self.class_weight.to(logits.device),
            ignore_index=self.ignore_index)
        return self.loss_weight * loss
