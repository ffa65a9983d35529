"""oIoU, mIoU and P@0.5 of dumped predictions at several mask thresholds.

    python tools/test.py CONFIG CKPT --out work_dirs/preds.pkl
    python tools/analysis_tools/threshold_sweep.py work_dirs/preds.pkl \
        [--thresholds 0.5 0.6 0.7 0.75] [--split val]

A pixel is in the mask when the softmax probability of the referent is
above the threshold (0.5 is the argmax, what every config does unless its
``model.test_cfg.mask_threshold`` says otherwise). The dump holds the
logits (``seg_logits``) and the ground truth (``gt_sem_seg``) of every
sentence at the resolution the metric used, so one test run gives every
threshold. Choose a threshold on one split and report it on the others.
"""
import argparse
import collections
import pickle
import sys
from typing import Dict, Iterable, Sequence

import numpy as np

from mmris.evaluation import RISMetric
from mmris.models.segmentors.ris_encoder_decoder import referent_margin

DEFAULT_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('predictions', help='pickle from tools/test.py --out')
    parser.add_argument(
        '--thresholds',
        type=float,
        nargs='+',
        default=DEFAULT_THRESHOLDS,
        help='referent probabilities, each in (0, 1)')
    parser.add_argument(
        '--split', default=None, help='only this split (default: all)')
    return parser.parse_args(argv)


def referent_minus_background(pred: dict, index: int) -> np.ndarray:
    """The logit difference of one dumped prediction, ``[H, W]``."""
    if 'seg_logits' not in pred or 'gt_sem_seg' not in pred:
        sys.exit(f'error: prediction {index} has no seg_logits or '
                 'gt_sem_seg; dump them with tools/test.py --out')
    logits = pred['seg_logits']['data']
    if hasattr(logits, 'float'):  # a tensor, bf16 under autocast
        logits = logits.float().numpy()
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim != 3 or logits.shape[0] != 2:
        sys.exit(f'error: prediction {index}: seg_logits of shape '
                 f'{logits.shape}, expected [2, H, W] (background, referent)')
    return logits[1] - logits[0]


def sweep(preds: Iterable[dict],
          thresholds: Sequence[float],
          split=None) -> Dict[str, Dict[float, Dict[str, float]]]:
    """Per split and threshold: ``oIoU``, ``mIoU`` and ``P@0.5`` (x100, as
    :class:`RISMetric` computes them) and ``sentences``."""
    margins = [referent_margin(t) for t in thresholds]
    pairs = collections.defaultdict(lambda: [[] for _ in thresholds])
    for index, pred in enumerate(preds):
        name = pred.get('split', 'all')
        if split is not None and name != split:
            continue
        diff = referent_minus_background(pred, index)
        gt = np.asarray(pred['gt_sem_seg']['data']).squeeze() == 1
        if gt.shape != diff.shape:
            sys.exit(f'error: prediction {index}: gt_sem_seg {gt.shape} and '
                     f'seg_logits {diff.shape} differ in size')
        for slot, margin in zip(pairs[name], margins):
            mask = diff > margin
            slot.append((int((mask & gt).sum()), int((mask | gt).sum())))
    metric = RISMetric(iou_thrs=(0.5, ), prefix='sweep')  # prefix: no warning
    stats = {}
    for name, per_threshold in pairs.items():
        stats[name] = {}
        for threshold, inter_union in zip(thresholds, per_threshold):
            summary = metric.summarize(inter_union)
            stats[name][threshold] = dict(
                sentences=len(inter_union),
                oIoU=summary['oIoU'],
                mIoU=summary['mIoU'],
                **{'P@0.5': summary['P@0.5']})
    return stats


def format_table(stats: Dict[str, Dict[float, Dict[str, float]]]) -> str:
    lines = [
        '| split | threshold | sentences | oIoU | mIoU | P@0.5 |',
        '|---|---|---|---|---|---|',
    ]
    for name in sorted(stats):
        for threshold, row in stats[name].items():
            lines.append(f"| {name} | {threshold:g} | {row['sentences']} | "
                         f"{row['oIoU']:.2f} | {row['mIoU']:.2f} | "
                         f"{row['P@0.5']:.2f} |")
    return '\n'.join(lines)


def main(argv=None) -> Dict[str, Dict[float, Dict[str, float]]]:
    args = parse_args(argv)
    for threshold in args.thresholds:
        try:
            referent_margin(threshold)
        except ValueError:
            sys.exit(f'error: --thresholds {threshold}: each must be in '
                     '(0, 1)')
    try:
        with open(args.predictions, 'rb') as f:
            preds = pickle.load(f)
    except FileNotFoundError:
        sys.exit(f'error: {args.predictions} not found; write it with '
                 'tools/test.py CONFIG CKPT --out FILE')
    stats = sweep(preds, args.thresholds, args.split)
    if not stats:
        sys.exit(f'error: no predictions of split {args.split!r} in '
                 f'{args.predictions}')
    print(format_table(stats))
    return stats


if __name__ == '__main__':
    main()
