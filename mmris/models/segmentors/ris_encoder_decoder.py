"""A text-aware encoder-decoder segmentor for referring segmentation."""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.structures import SegDataSample
from torch import Tensor

from mmris.registry import MODELS

SampleList = Sequence[SegDataSample]
OUTPUT_SIZES = ('input', 'original')


def referent_margin(threshold) -> float:
    """The logit margin (referent minus background) at which the softmax
    probability of the referent equals ``threshold``.

    0.5 gives 0: ``margin > 0`` is the argmax with ties to the background.
    """
    if isinstance(threshold, bool) or not isinstance(threshold,
                                                     (int, float)):
        raise TypeError('test_cfg.mask_threshold must be a number in (0, 1), '
                        f'got {threshold!r}')
    if not 0 < threshold < 1:
        raise ValueError('test_cfg.mask_threshold must be in (0, 1) '
                         f'(0.5 is the argmax), got {threshold}')
    return math.log(threshold / (1 - threshold))


@MODELS.register_module()
class RISEncoderDecoder(BaseSegmentor):
    """Image + sentence -> mask of the referred object.

    mmseg's ``EncoderDecoder`` has no text input, so this segmentor reads the
    WordPiece ids and attention mask from the data samples (written by
    ``BertTokenize``/``PackRISInputs``) and hands them to a vision-language
    ``backbone`` (e.g. ``CARISPromptEncoder``) and a text-aware
    ``decode_head`` (e.g. ``CARISHead``) that returns low-resolution logits
    ``[B, 2, h, w]`` (channel 1 = the referent).

    Inference follows the reference: the logits are upsampled bilinearly
    with ``align_corners=True`` and the mask is their argmax (no sigmoid, no
    threshold; ties go to the background). ``test_cfg.mask_threshold``
    other than 0.5 keeps the pixels whose softmax probability of the
    referent is above it instead (0.5 is the argmax).

    Args:
        backbone (dict): Vision-language encoder; ``forward(img, input_ids,
            attention_mask)`` returns ``(visual_feats, text_feats)``.
        decode_head (dict): ``forward(visual_feats, text_feats,
            attention_mask)`` returns logits.
        loss_decode (dict): Loss of the logits against the GT mask.
        test_cfg (dict, optional): ``output_size='input'`` (default: masks
            at the network input size, the CARIS/MaskRIS protocol at 448x448)
            or ``'original'`` (masks at each image's original size);
            ``mask_threshold`` (default 0.5, the argmax): the referent
            probability above which a pixel is in the mask.
        data_preprocessor (dict, optional): e.g. ``RISDataPreprocessor``.
        train_cfg (dict, optional): Unused; kept for mmseg compatibility.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 loss_decode: dict = dict(type='RISCrossEntropyLoss'),
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.decode_head = MODELS.build(decode_head)
        self.loss_decode = MODELS.build(loss_decode)
        self.train_cfg = train_cfg
        self.test_cfg = dict(test_cfg or {})
        output_size = self.test_cfg.setdefault('output_size', 'input')
        if output_size not in OUTPUT_SIZES:
            raise ValueError(f'test_cfg.output_size must be one of '
                             f'{OUTPUT_SIZES}, got {output_size!r}')
        self.mask_margin = referent_margin(
            self.test_cfg.setdefault('mask_threshold', 0.5))

    # ------------------------------------------------------------------
    # text from the data samples
    # ------------------------------------------------------------------
    @staticmethod
    def stack_text(data_samples: SampleList, key: str,
                   device: Optional[torch.device] = None) -> Tensor:
        """Stack one text field (``input_ids``, ``attention_mask``, ...) of
        the data samples into ``[B, L]`` int64."""
        if not data_samples:
            raise ValueError('a referring segmentor needs data samples with '
                             'the tokenized sentence; got none')
        rows = []
        for sample in data_samples:
            if key not in sample:
                raise KeyError(
                    f'data sample has no "{key}"; the pipeline must '
                    'tokenize the sentence (BertTokenize before '
                    'PackRISInputs)')
            rows.append(torch.as_tensor(sample.get(key)))
        text = torch.stack(rows).long()
        return text if device is None else text.to(device)

    def _text(self, inputs: Tensor,
              data_samples: SampleList) -> Tuple[Tensor, Tensor]:
        return (self.stack_text(data_samples, 'input_ids', inputs.device),
                self.stack_text(data_samples, 'attention_mask',
                                inputs.device))

    # ------------------------------------------------------------------
    # network
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: Tensor, input_ids: Tensor,
                     attention_mask: Tensor) -> tuple:
        """Visual feature maps and text features of the backbone."""
        return self.backbone(inputs, input_ids, attention_mask)

    def encode_decode_logits(self, inputs: Tensor, input_ids: Tensor,
                             attention_mask: Tensor) -> Tensor:
        """Raw logits ``[B, 2, h, w]`` (stride 4 for CARIS)."""
        visual_feats, text_feats = self.extract_feat(inputs, input_ids,
                                                     attention_mask)
        return self.decode_head(visual_feats, text_feats, attention_mask)

    def encode_decode(self, inputs: Tensor,
                      data_samples: SampleList) -> Tensor:
        """Logits upsampled to the input size (mmseg's interface)."""
        logits = self.encode_decode_logits(inputs,
                                           *self._text(inputs, data_samples))
        return self.upsample(logits, inputs.shape[-2:])

    @staticmethod
    def upsample(logits: Tensor, size) -> Tensor:
        """Bilinear, ``align_corners=True``, as the reference."""
        if tuple(logits.shape[-2:]) == tuple(size):
            return logits
        return F.interpolate(
            logits, size=tuple(size), mode='bilinear', align_corners=True)

    # ------------------------------------------------------------------
    # modes
    # ------------------------------------------------------------------
    def gt_loss(self, logits: Tensor, data_samples: SampleList) -> Tensor:
        """The supervised loss of raw logits against the GT masks."""
        gt = torch.stack([s.gt_sem_seg.data for s in data_samples])
        return self.loss_decode(logits, gt.squeeze(1).to(logits.device))

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        logits = self.encode_decode_logits(inputs,
                                           *self._text(inputs, data_samples))
        return {self.loss_decode.loss_name: self.gt_loss(logits,
                                                         data_samples)}

    def predict(self,
                inputs: Tensor,
                data_samples: Optional[SampleList] = None) -> List:
        """Masks for each (image, sentence) pair as ``SegDataSample``s with
        ``seg_logits`` (2 channels) and ``pred_sem_seg`` (0/1)."""
        logits = self.encode_decode_logits(inputs,
                                           *self._text(inputs, data_samples))
        return self.postprocess_result(logits, inputs.shape[-2:],
                                       data_samples)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: Optional[SampleList] = None) -> Tensor:
        """Raw logits (``mode='tensor'``)."""
        return self.encode_decode_logits(inputs,
                                         *self._text(inputs, data_samples))

    def postprocess_result(self, logits: Tensor, input_size,
                           data_samples: SampleList) -> List:
        """Upsample per sample to the input or original size; the mask is
        where the referent's probability exceeds ``mask_threshold``."""
        for i, sample in enumerate(data_samples):
            sample_logits = self._crop_padding(logits[i:i + 1], input_size,
                                               sample)
            size = input_size
            if self.test_cfg['output_size'] == 'original':
                size = sample.metainfo['ori_shape'][:2]
            sample_logits = self.upsample(sample_logits, size)[0]
            referent = sample_logits[1:2] - sample_logits[0:1]
            sample.set_data({
                'seg_logits': PixelData(data=sample_logits),
                'pred_sem_seg': PixelData(
                    data=(referent > self.mask_margin).long())
            })
        return list(data_samples)

    def _crop_padding(self, logits: Tensor, input_size,
                      sample: SegDataSample) -> Tensor:
        """Drop the part of the logits that covers batch padding."""
        img_shape = sample.metainfo.get('img_shape', input_size)[:2]
        if tuple(img_shape) == tuple(input_size):
            return logits
        scale_h = logits.shape[-2] / input_size[0]
        scale_w = logits.shape[-1] / input_size[1]
        return logits[..., :round(img_shape[0] * scale_h), :round(
            img_shape[1] * scale_w)]
