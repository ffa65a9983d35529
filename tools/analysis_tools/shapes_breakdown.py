"""What a model trained on the synthetic `shapes` data has learnt, by rule.

    python tools/test.py configs/demo/maskris_tiny_shapes.py CKPT \
        --out work_dirs/preds.pkl
    python tools/analysis_tools/shapes_breakdown.py work_dirs/preds.pkl \
        [--data-root data/shapes] [--split val]

The generator records the rule behind every sentence (``scenes.json``:
``attr``, ``size``, ``pos``, ``rel`` and the words each names). This tool
groups the dumped predictions by kind of rule and by whether the sentence
names a colour (with ``--distinct-colors`` data a colour word alone picks
the object), and prints per group: sentences, oIoU, P@0.5 and how often
the mask covers more than one object (``multi``: the model fell back to a
text-blind "all objects" answer).
"""
import argparse
import collections
import functools
import json
import os.path as osp
import pickle
import sys
from typing import Dict, Iterable, List

import numpy as np

from mmris.datasets.refer import decode_segmentation
from mmris.evaluation import RISMetric

# an object counts as covered when the mask holds this share of its pixels
COVERED = 0.5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('predictions', help='pickle from tools/test.py --out')
    parser.add_argument(
        '--data-root',
        default='data/shapes',
        help='root written by tools/misc/make_demo_data.py')
    parser.add_argument(
        '--split', default=None, help='only this split (default: all)')
    return parser.parse_args(argv)


def load_json(path: str):
    if not osp.isfile(path):
        sys.exit(f'error: {path} not found; this tool reads the rules that '
                 'tools/misc/make_demo_data.py records for the shapes data '
                 '(pass --data-root)')
    with open(path) as f:
        return json.load(f)


def group_of(rule: dict) -> str:
    """``kind`` plus ``+colour`` or ``-colour``: does the target's own
    description name its colour?"""
    named = 'color' in rule.get('desc', {})
    return f"{rule['kind']} {'+' if named else '-'}colour"


def load_records(ann_dir: str):
    """``masks_of(image_id)`` (the [H, W] bool masks of an image's objects,
    decoded once per image) and ``sent_id -> rule``, from the generator's
    records in ``ann_dir``."""
    scenes = load_json(osp.join(ann_dir, 'scenes.json'))
    instances = load_json(osp.join(ann_dir, 'instances.json'))
    images = {im['id']: im for im in instances['images']}
    anns = {a['id']: a for a in instances['annotations']}
    objects = {s['image_id']: [o['ann_id'] for o in s['objects']]
               for s in scenes}
    rules = {
        sent['sent_id']: sent['rule']
        for s in scenes for ref in s['refs'] for sent in ref['sentences']
    }

    @functools.lru_cache(maxsize=64)  # predictions come image by image
    def masks_of(image_id: int) -> List[np.ndarray]:
        im = images[image_id]
        return [
            decode_segmentation(anns[ann_id]['segmentation'], im['height'],
                                im['width']).astype(bool)
            for ann_id in objects[image_id]
        ]

    return masks_of, rules


def breakdown(preds: Iterable[dict], data_root: str,
              split=None) -> Dict[str, Dict[str, float]]:
    """Per group: ``sentences``, ``oIoU`` and ``P@0.5`` (x100, as
    :class:`RISMetric` computes them) and ``multi`` (% of the masks that
    cover more than one object)."""
    ann_dir = osp.join(data_root, 'refer', 'shapes')
    masks_of, rules = load_records(ann_dir)
    pairs = collections.defaultdict(list)  # group -> [(I, U)]
    multi = collections.Counter()
    for pred in preds:
        if split is not None and pred['split'] != split:
            continue
        if pred['sent_id'] not in rules:
            sys.exit(f"error: sentence {pred['sent_id']} is not in "
                     f'{ann_dir}/scenes.json: predictions of another '
                     'data set?')
        gt = np.asarray(pred['gt_sem_seg']['data']).astype(bool).squeeze()
        mask = np.asarray(pred['pred_sem_seg']['data']).astype(bool).squeeze()
        covered = sum((obj & mask).sum() > COVERED * obj.sum()
                      for obj in masks_of(pred['image_id']))
        inter, union = int((gt & mask).sum()), int((gt | mask).sum())
        for key in (f"{pred['split']} all", f"{pred['split']} "
                    f"{group_of(rules[pred['sent_id']])}"):
            pairs[key].append((inter, union))
            multi[key] += covered > 1
    metric = RISMetric(iou_thrs=(0.5, ), prefix='shapes')  # prefix: no warning
    stats = {}
    for key, inter_union in pairs.items():
        summary = metric.summarize(inter_union)
        stats[key] = {
            'sentences': len(inter_union),
            'oIoU': summary['oIoU'],
            'P@0.5': summary['P@0.5'],
            'multi': 100.0 * multi[key] / len(inter_union),
        }
    return stats


def format_table(stats: Dict[str, Dict[str, float]]) -> str:
    lines = [
        '| split | group | sentences | oIoU | P@0.5 | multi |',
        '|---|---|---|---|---|---|',
    ]
    for key in sorted(stats):
        row = stats[key]
        split, group = key.split(' ', 1)
        lines.append(f"| {split} | {group} | {row['sentences']} | "
                     f"{row['oIoU']:.1f} | {row['P@0.5']:.1f} | "
                     f"{row['multi']:.1f} |")
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.predictions):
        sys.exit(f'error: {args.predictions} not found; write it with '
                 'tools/test.py CONFIG CKPT --out FILE')
    with open(args.predictions, 'rb') as f:
        preds = pickle.load(f)
    stats = breakdown(preds, args.data_root, args.split)
    if not stats:
        sys.exit(f'error: no predictions of split {args.split!r} in '
                 f'{args.predictions}')
    print(format_table(stats))


if __name__ == '__main__':
    main()
