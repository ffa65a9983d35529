"""Tiny models and fake batches for model tests."""
import copy
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from .tools import TINY_MODEL_CONFIG


def tiny_model_cfg(segmentor: str = 'RISEncoderDecoder', **kwargs):
    """The model dict of ``configs/_base_/models/caris_tiny.py``."""
    cfg = copy.deepcopy(Config.fromfile(TINY_MODEL_CONFIG).model)
    cfg.type = segmentor
    cfg.update(kwargs)
    return cfg


def fake_batch(batch_size: int = 2,
               size: int = 64,
               length: int = 8,
               patch: int = 32,
               seed: int = 0,
               keep_ori: bool = False,
               ori_shape: Optional[tuple] = None) -> dict:
    """What the data loader yields for ``batch_size`` RIS samples.

    Images are uint8 ``[3, size, size]``; every sample has a GT mask, a
    tokenized sentence (``[CLS] w w ... [SEP] [PAD]``), a text-masked copy
    and a patch mask of a ``size/patch`` grid (MaskRIS fields).
    """
    rng = np.random.default_rng(seed)
    inputs: List[torch.Tensor] = []
    samples: List[SegDataSample] = []
    grid = size // patch
    for i in range(batch_size):
        inputs.append(
            torch.from_numpy(
                rng.integers(0, 256, (3, size, size), dtype=np.uint8)))
        gt = torch.zeros(1, size, size, dtype=torch.long)
        top, left = rng.integers(0, size // 2, 2)
        gt[:, top:top + size // 2, left:left + size // 3] = 1
        words = length - 3 - i % 2
        ids = torch.zeros(length, dtype=torch.long)
        ids[0], ids[words + 1] = 101, 102
        ids[1:words + 1] = torch.from_numpy(
            rng.integers(1000, 30000, words))
        masked = ids.clone()
        masked[1] = 103
        patch_mask = torch.from_numpy(rng.random((grid, grid)) < 0.75)
        meta = dict(
            img_shape=(size, size),
            ori_shape=ori_shape or (size, size),
            sentence=f'sentence {i}')
        sample = SegDataSample(metainfo=meta)
        sample.gt_sem_seg = PixelData(data=gt)
        sample.set_data(
            dict(
                input_ids=ids,
                attention_mask=(ids > 0).long(),
                masked_input_ids=masked,
                img_patch_mask=patch_mask))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
