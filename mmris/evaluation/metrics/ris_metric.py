"""oIoU, mIoU and Precision@X for referring image segmentation."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from prettytable import PrettyTable

from mmris.registry import METRICS

GT_KEYS = {'input': 'gt_sem_seg', 'original': 'ori_gt_sem_seg'}


@METRICS.register_module()
class RISMetric(BaseMetric):
    """The RIS evaluation protocol of LAVT/CARIS/MaskRIS.

    Per sample (one sentence) n, with the predicted mask P (label 1 of
    ``pred_sem_seg``) and the ground truth G (label 1):
    ``I_n = |P & G|``, ``U_n = |P | G|``, ``IoU_n = I_n / U_n``. Then

    * ``oIoU = sum_n I_n / sum_n U_n`` (overall IoU, a.k.a. cIoU; the
      headline number and the checkpoint criterion),
    * ``mIoU = mean_n IoU_n``,
    * ``P@X = fraction of samples with IoU_n >= X`` for each X of
      ``iou_thrs``,

    all returned x100 (unrounded) and printed with two decimals.

    If both P and G are empty, ``IoU_n = empty_iou`` (default 1.0: an
    empty prediction for an empty target is right). The reference would
    compute 0/0 = NaN and mmdet's RefSegMetric uses 0; RefCOCO masks are
    never empty at 448x448, so this only matters for degenerate data, and
    such samples are counted in the log. They add nothing to oIoU.

    Resolution: ``'input'`` (default, the reference protocol) compares with
    ``gt_sem_seg``, the nearest-resized 448x448 mask the network saw;
    ``'original'`` compares with ``ori_gt_sem_seg`` (pack it with
    ``PackRISInputs(keep_ori_mask=True)``) and needs the model to predict at
    the original size.

    Several splits in one test run: concatenate the datasets (mmengine
    ``ConcatDataset``); samples are grouped by their ``split`` metainfo, or
    by ``dataset_name/split`` when several datasets are present. One table
    is printed per group and the keys become ``<group>/oIoU``,
    ``<group>/mIoU``, ``<group>/P@0.5``, ...; with one group the keys are
    plain ``oIoU``, ``mIoU``, ``P@0.5``, ... (so ``save_best='oIoU'``
    works on the validation set).

    Only ``(group, I, U)`` per sample is kept, so results gather cheaply
    across ranks, and mmengine drops the sampler's padding duplicates.

    Args:
        resolution (str): 'input' or 'original'. Defaults to 'input'.
        iou_thrs (Sequence[float]): Thresholds of Precision@X. Defaults to
            (0.5, 0.6, 0.7, 0.8, 0.9).
        empty_iou (float): IoU of an empty prediction on an empty ground
            truth. Defaults to 1.0.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to
            None.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 resolution: str = 'input',
                 iou_thrs: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9),
                 empty_iou: float = 1.0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(
            collect_device=collect_device, prefix=prefix, **kwargs)
        if resolution not in GT_KEYS:
            raise ValueError(f'resolution must be one of {tuple(GT_KEYS)}, '
                             f'got "{resolution}"')
        if not iou_thrs or not all(0 < t <= 1 for t in iou_thrs):
            raise ValueError(f'iou_thrs must be in (0, 1], got {iou_thrs}')
        self.resolution = resolution
        self.gt_key = GT_KEYS[resolution]
        self.iou_thrs = tuple(float(t) for t in iou_thrs)
        self.empty_iou = float(empty_iou)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store ``(dataset_name, split, I, U)`` of every sample."""
        for sample in data_samples:
            if self.gt_key not in sample:
                raise KeyError(
                    f'RISMetric(resolution="{self.resolution}") needs '
                    f'"{self.gt_key}" in the data samples' +
                    ('; pack it with PackRISInputs(keep_ori_mask=True).'
                     if self.resolution == 'original' else '.'))
            pred = sample['pred_sem_seg']['data'].squeeze(0)
            gt = sample[self.gt_key]['data'].squeeze(0).to(pred.device)
            if pred.shape != gt.shape:
                raise ValueError(
                    f'prediction {tuple(pred.shape)} and {self.gt_key} '
                    f'{tuple(gt.shape)} differ in size (sample '
                    f'{sample.get("img_path")}, ref_id '
                    f'{sample.get("ref_id")}); with resolution="original" '
                    'the model must predict at the original size '
                    '(test_cfg=dict(output_size="original")).')
            pred_fg = pred == 1
            gt_fg = gt == 1
            inter = int((pred_fg & gt_fg).sum())
            union = int((pred_fg | gt_fg).sum())
            self.results.append((sample.get('dataset_name',
                                            ''), sample.get('split',
                                                            ''), inter, union))

    def _group_label(self, names: set, name: str, split: str) -> str:
        if len(names) > 1:
            return f'{name}/{split}' if split else name
        return split or 'all'

    def summarize(self, inter_union: List[Tuple[int,
                                                int]]) -> Dict[str, float]:
        """oIoU, mIoU and P@X (x100) of a list of ``(I, U)``."""
        num = len(inter_union)
        ious = [i / u if u > 0 else self.empty_iou for i, u in inter_union]
        total_i = sum(i for i, _ in inter_union)
        total_u = sum(u for _, u in inter_union)
        out = OrderedDict()
        out['oIoU'] = 100.0 * (
            total_i / total_u if total_u > 0 else self.empty_iou)
        out['mIoU'] = 100.0 * sum(ious) / num
        for thr in self.iou_thrs:
            out[f'P@{thr:g}'] = 100.0 * sum(iou >= thr for iou in ious) / num
        return out

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Group the samples, print a table per group, return the keys."""
        names = {name for name, _, _, _ in results}
        groups: Dict[str, list] = OrderedDict()
        for name, split, inter, union in results:
            label = self._group_label(names, name, split)
            groups.setdefault(label, []).append((inter, union))
        metrics = OrderedDict()
        for label, inter_union in groups.items():
            values = self.summarize(inter_union)
            self._print_table(label, values, inter_union)
            for key, value in values.items():
                metrics[key if len(groups) == 1 else f'{label}/{key}'] = \
                    value
        return metrics

    def _print_table(self, label: str, values: Dict[str, float],
                     inter_union: List[Tuple[int, int]]) -> None:
        table = PrettyTable()
        table.field_names = ['split', 'sentences'] + list(values)
        table.add_row([label, len(inter_union)] +
                      [f'{v:.2f}' for v in values.values()])
        empty = sum(1 for _, u in inter_union if u == 0)
        note = (f'\n{empty} sample(s) with empty prediction and empty '
                f'ground truth scored IoU={self.empty_iou}.' if empty else '')
        print_log(
            f'RIS results ({self.resolution} resolution), {label}:\n'
            f'{table.get_string()}{note}',
            logger='current')
