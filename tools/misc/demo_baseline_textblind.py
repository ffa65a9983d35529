"""Text-blind floors of the shapes demo, computed from the annotations.

A model that ignores the sentence gives every sentence of an image the
same mask. This tool scores the simplest such rule, "always the largest
object of the image", on each split, at every sentence, with the overall
IoU of RISMetric (sum of intersections / sum of unions over all sentences,
x100). Images have 2-4 objects, so it is right about once in three.

Example::

    python tools/misc/demo_baseline_textblind.py data/shapes
"""
import argparse
import os.path as osp
from collections import defaultdict
from typing import Dict, List

import numpy as np

from mmris.datasets.refer import (decode_segmentation, load_instances,
                                  load_refs)

SPLITS = ('val', 'testA', 'testB', 'testOcc')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='oIoU of text-blind rules on the shapes demo data')
    parser.add_argument('data_root', help='folder with refer/shapes/')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS))
    return parser.parse_args(argv)


def object_masks(instances: dict) -> Dict[int, Dict[int, np.ndarray]]:
    """image id -> annotation id -> bool mask."""
    sizes = {
        img['id']: (img['height'], img['width'])
        for img in instances['images']
    }
    masks = defaultdict(dict)
    for ann in instances['annotations']:
        height, width = sizes[ann['image_id']]
        masks[ann['image_id']][ann['id']] = decode_segmentation(
            ann['segmentation'], height, width).astype(bool)
    return masks


def largest_object_oiou(refs: List[dict], masks: dict) -> float:
    """oIoU (x100) of predicting the largest object for every sentence."""
    inter = union = 0
    for ref in refs:
        objects = masks[ref['image_id']].values()
        pred = max(objects, key=lambda mask: int(mask.sum()))
        gt = masks[ref['image_id']][ref['ann_id']]
        count = len(ref['sentences'])
        inter += count * int((pred & gt).sum())
        union += count * int((pred | gt).sum())
    return 100.0 * inter / max(union, 1)


def main(argv=None):
    args = parse_args(argv)
    folder = osp.join(args.data_root, 'refer', 'shapes')
    refs = load_refs(osp.join(folder, 'refs(unc).p'))
    masks = object_masks(load_instances(osp.join(folder, 'instances.json')))
    print('text-blind "largest object" oIoU (x100)')
    for split in args.splits:
        score = largest_object_oiou([r for r in refs if r['split'] == split],
                                    masks)
        print(f'{split:<9}{score:6.2f}')


if __name__ == '__main__':
    main()
