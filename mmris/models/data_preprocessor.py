"""Batch, normalise and move RIS samples to the device."""
from numbers import Number
from typing import Any, Dict, Optional, Sequence

import torch
from mmseg.models import SegDataPreProcessor

from mmris.registry import MODELS

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class RISDataPreprocessor(SegDataPreProcessor):
    """mmseg's data preprocessor with the CARIS/MaskRIS normalisation.

    ``(x - mean) / std`` on the 0-255 scale with the ImageNet statistics
    in RGB order, i.e. exactly the reference's ``ToTensor`` followed by
    ``Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))``; the BGR
    images of the mmcv loaders are flipped to RGB first.

    Unlike mmseg's, it needs no ``size``: when neither ``size`` nor
    ``size_divisor`` is set, the images (resized by the pipeline, 448x448
    in the reference) are stacked as they are and a batch of different
    sizes raises a ValueError that says so. With ``size``/``size_divisor``
    it pads like mmseg.

    Data samples (with ``gt_sem_seg`` and the text tensors ``input_ids``,
    ``attention_mask``, ``masked_input_ids``, ``img_patch_mask``) are moved
    to the model's device and left in the samples; the segmentor stacks the
    text (``RISEncoderDecoder.stack_text``).

    Args:
        mean (Sequence[Number]): Defaults to the ImageNet mean (RGB).
        std (Sequence[Number]): Defaults to the ImageNet std (RGB).
        bgr_to_rgb (bool): Defaults to True (mmcv loads BGR).
        **kwargs: Other arguments of :class:`SegDataPreProcessor`.
    """

    def __init__(self,
                 mean: Sequence[Number] = IMAGENET_MEAN,
                 std: Sequence[Number] = IMAGENET_STD,
                 size: Optional[tuple] = None,
                 size_divisor: Optional[int] = None,
                 bgr_to_rgb: bool = True,
                 **kwargs) -> None:
        super().__init__(
            mean=mean,
            std=std,
            size=size,
            size_divisor=size_divisor,
            bgr_to_rgb=bgr_to_rgb,
            **kwargs)

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalise and stack ``inputs``; move ``data_samples``."""
        if self.size is not None or self.size_divisor is not None or \
                (not training and self.test_cfg):
            return super().forward(data, training)
        data = self.cast_data(data)
        inputs = data['inputs']
        if self.channel_conversion and inputs[0].size(0) == 3:
            inputs = [img[[2, 1, 0], ...] for img in inputs]
        inputs = [img.float() for img in inputs]
        if self._enable_normalize:
            inputs = [(img - self.mean) / self.std for img in inputs]
        shapes = {tuple(img.shape) for img in inputs}
        if len(shapes) > 1:
            raise ValueError(
                f'images of one batch have different sizes {sorted(shapes)}; '
                'resize them in the pipeline (e.g. Resize(scale=(448, 448), '
                'keep_ratio=False)) or set size=/size_divisor= to pad.')
        if training and data.get('data_samples') is None:
            raise ValueError('training needs data_samples')
        return dict(
            inputs=torch.stack(inputs, dim=0),
            data_samples=data.get('data_samples'))
