"""Pack a RIS sample into ``dict(inputs, data_samples)``."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmris.registry import TRANSFORMS

# Per-sample tensors the model reads from the data sample (see
# docs/dev_interfaces.md); absent keys are left out.
TEXT_KEYS = ('input_ids', 'attention_mask', 'masked_input_ids',
             'img_patch_mask')
META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'scale_factor', 'sentence',
             'ref_id', 'sent_id', 'ann_id', 'image_id', 'category_id', 'split',
             'dataset_name')


@TRANSFORMS.register_module()
class PackRISInputs(BaseTransform):
    """Pack image, mask, tokens and ids for the RIS model.

    Output: ``inputs`` (uint8 ``[3, H, W]`` tensor, the channel order of
    the pipeline, BGR for mmcv loaders) and ``data_samples``
    (:class:`SegDataSample`) with

    * ``gt_sem_seg``: PixelData ``[1, H, W]`` int64 (network input size);
    * ``ori_gt_sem_seg`` when ``keep_ori_mask``: the mask at the original
      image size, for ``RISMetric(resolution='original')``;
    * data fields ``input_ids``, ``attention_mask`` (int64 ``[L]``) and,
      when present, ``masked_input_ids`` (int64) and ``img_patch_mask``
      (bool);
    * metainfo ``meta_keys`` that are present in the results.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo.
        keep_ori_mask (bool): Also pack ``ori_gt_seg_map`` (written by
            ``LoadRefMask``). Defaults to False.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = META_KEYS,
                 keep_ori_mask: bool = False) -> None:
        self.meta_keys = tuple(meta_keys)
        self.keep_ori_mask = keep_ori_mask

    @staticmethod
    def _mask_data(mask: np.ndarray) -> PixelData:
        return PixelData(
            data=torch.from_numpy(mask[None].astype(np.int64, copy=True)))

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = SegDataSample()
        if 'gt_seg_map' in results:
            sample.gt_sem_seg = self._mask_data(results['gt_seg_map'])
        if self.keep_ori_mask:
            if 'ori_gt_seg_map' not in results:
                raise KeyError('PackRISInputs(keep_ori_mask=True) needs '
                               '"ori_gt_seg_map": put LoadRefMask in the '
                               'pipeline.')
            sample.set_data(
                dict(
                    ori_gt_sem_seg=self._mask_data(results['ori_gt_seg_map'])))
        for key in TEXT_KEYS:
            if key in results:
                sample.set_data({
                    key:
                    torch.from_numpy(np.ascontiguousarray(results[key]))
                })
        sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(meta_keys={self.meta_keys}, '
                f'keep_ori_mask={self.keep_ori_mask})')
