"""A tiny real-annotation RefCOCO data root for tests and dry runs.

``tests/data/refer_sample`` holds real REFER refs and COCO polygons for four
COCO train2014 images (see its SOURCE.txt for provenance and licences), but
no JPEGs. ``build_refer_sample`` lays them out like a real DATA_PATH and
writes blank images of the recorded sizes.
"""
import json
import os
import os.path as osp
import shutil

import numpy as np
from PIL import Image

REFER_SAMPLE = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tests',
    'data', 'refer_sample')
DATASETS = ('refcoco', 'refcoco+', 'refcocog')


def build_refer_sample(data_root: str, source: str = REFER_SAMPLE) -> str:
    """Write ``data_root/{train2014,refer/<dataset>}`` and return data_root.

    Images are mid-grey JPEGs with a little deterministic noise, sized as
    recorded in ``instances.json``. Existing files are kept.
    """
    images = {}
    for name in DATASETS:
        dst = osp.join(data_root, 'refer', name)
        os.makedirs(dst, exist_ok=True)
        for fname in os.listdir(osp.join(source, name)):
            target = osp.join(dst, fname)
            if not osp.exists(target):
                shutil.copyfile(osp.join(source, name, fname), target)
        with open(osp.join(dst, 'instances.json'), encoding='utf-8') as f:
            for img in json.load(f)['images']:
                images[img['file_name']] = (img['height'], img['width'])

    img_dir = osp.join(data_root, 'train2014')
    os.makedirs(img_dir, exist_ok=True)
    rng = np.random.default_rng(0)
    for fname, (height, width) in sorted(images.items()):
        path = osp.join(img_dir, fname)
        if osp.exists(path):
            continue
        pixels = 128 + rng.integers(-8, 8, size=(height, width, 3))
        Image.fromarray(pixels.astype(np.uint8)).save(path, quality=90)
    return data_root
