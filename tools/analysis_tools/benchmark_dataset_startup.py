"""Time RefCOCODataset start-up on synthetic REFER files of RefCOCO's size.

    python tools/analysis_tools/benchmark_dataset_startup.py
    python tools/analysis_tools/benchmark_dataset_startup.py --work-dir /tmp/b

Writes ``refer/refcoco/{refs(unc).p, instances.json}`` with RefCOCO (unc)'s
counts (50,000 refs and 142,210 sentences over 19,994 images; 196,771 COCO
annotations with polygons of 8-40 points), then times the dataset
constructions a training run does (train, val) and the test splits, each in
a fresh process. Masks are not decoded at start-up, so the figures are
dominated by reading the JSON and pickle files.
"""
import argparse
import json
import os
import os.path as osp
import pickle
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

# RefCOCO (unc): refs / sentences per split (REFER statistics).
SPLITS = (('train', 42404, 120624), ('val', 3811, 10834),
          ('testA', 1975, 5657), ('testB', 1810, 5095))
NUM_IMAGES = 19994
NUM_ANNS = 196771
WORDS = (
    'man woman left right the on in with red blue white black shirt '
    'guy girl far middle front back second top bottom chair table dog '
    'cat car person holding standing sitting near next to small big').split()


def make_files(ann_dir: str, seed: int = 0) -> dict:
    """Write the synthetic refs pickle and instances.json; return sizes."""
    rng = np.random.default_rng(seed)
    os.makedirs(ann_dir, exist_ok=True)
    images = [
        dict(
            id=i + 1,
            file_name=f'COCO_train2014_{i + 1:012d}.jpg',
            height=int(rng.integers(300, 641)),
            width=int(rng.integers(300, 641))) for i in range(NUM_IMAGES)
    ]
    anns = []
    for ann_id in range(1, NUM_ANNS + 1):
        img = images[(ann_id - 1) % NUM_IMAGES]
        num_points = int(rng.integers(8, 41))
        xs = rng.uniform(0, img['width'], num_points)
        ys = rng.uniform(0, img['height'], num_points)
        polygon = np.round(np.stack([xs, ys], 1).reshape(-1), 2).tolist()
        anns.append(
            dict(
                id=ann_id,
                image_id=img['id'],
                category_id=int(rng.integers(1, 91)),
                segmentation=[polygon],
                area=float(rng.uniform(100, 50000)),
                bbox=[0.0, 0.0, 10.0, 10.0],
                iscrowd=0))
    refs, sent_id, ref_id = [], 0, 0
    for split, num_refs, num_sents in SPLITS:
        # spread the sentences: every ref gets >= 1, the rest at random
        per_ref = np.ones(num_refs, dtype=int)
        np.add.at(per_ref, rng.integers(0, num_refs, num_sents - num_refs), 1)
        for count in per_ref:
            ref_id += 1
            ann = anns[ref_id * 3 % NUM_ANNS]
            sentences = []
            for _ in range(count):
                tokens = [
                    WORDS[k] for k in rng.integers(0, len(WORDS),
                                                   int(rng.integers(1, 9)))
                ]
                sentences.append(
                    dict(
                        tokens=tokens,
                        raw=' '.join(tokens).capitalize(),
                        sent=' '.join(tokens),
                        sent_id=sent_id))
                sent_id += 1
            refs.append(
                dict(
                    ref_id=ref_id,
                    ann_id=ann['id'],
                    image_id=ann['image_id'],
                    split=split,
                    category_id=ann['category_id'],
                    file_name=f'x_{ann["id"]}.jpg',
                    sent_ids=[s['sent_id'] for s in sentences],
                    sentences=sentences))
    refs_path = osp.join(ann_dir, 'refs(unc).p')
    inst_path = osp.join(ann_dir, 'instances.json')
    with open(refs_path, 'wb') as f:
        pickle.dump(refs, f, protocol=2)
    with open(inst_path, 'w', encoding='utf-8') as f:
        json.dump(dict(images=images, annotations=anns, categories=[]), f)
    return dict(
        refs=len(refs),
        sentences=sent_id,
        refs_mb=osp.getsize(refs_path) / 2**20,
        instances_mb=osp.getsize(inst_path) / 2**20)


CHILD = r'''
import sys, time, json
t0 = time.perf_counter()
from mmris.datasets import RefCOCODataset
t1 = time.perf_counter()
ds = RefCOCODataset(data_root=sys.argv[1], dataset='refcoco', split_by='unc',
                    split=sys.argv[2], test_mode=sys.argv[3] == 'test')
t2 = time.perf_counter()
for i in range(0, len(ds), max(1, len(ds) // 1000)):
    ds.get_data_info(i)
t3 = time.perf_counter()
print(json.dumps(dict(items=len(ds), import_s=t1 - t0, build_s=t2 - t1,
                      info_ms=1000 * (t3 - t2) / 1000)))
'''


def time_build(data_root: str, split: str, mode: str) -> dict:
    """Build one dataset in a fresh interpreter and return its timings."""
    out = subprocess.run([sys.executable, '-c', CHILD, data_root, split, mode],
                         check=True,
                         capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', help='keep the synthetic files here')
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    work = args.work_dir or tempfile.mkdtemp(prefix='refer_bench_')
    ann_dir = osp.join(work, 'refer', 'refcoco')
    if not osp.isfile(osp.join(ann_dir, 'instances.json')):
        start = time.perf_counter()
        sizes = make_files(ann_dir)
        print(f'wrote {sizes["refs"]} refs / {sizes["sentences"]} sentences '
              f'(refs(unc).p {sizes["refs_mb"]:.1f} MiB, instances.json '
              f'{sizes["instances_mb"]:.1f} MiB) in '
              f'{time.perf_counter() - start:.1f} s to {ann_dir}')
    print(f'machine: {platform.processor() or platform.machine()}, '
          f'{os.cpu_count()} CPU(s), Python {platform.python_version()}')
    print(f'{"split":<8}{"mode":<6}{"items":>8}{"build s (best/median)":>24}'
          f'{"get_data_info ms":>18}')
    for split, mode in (('train', 'train'), ('val', 'test'), ('testA', 'test'),
                        ('testB', 'test')):
        runs = [time_build(work, split, mode) for _ in range(args.repeat)]
        builds = sorted(r['build_s'] for r in runs)
        print(f'{split:<8}{mode:<6}{runs[0]["items"]:>8}'
              f'{builds[0]:>13.2f} / {builds[len(builds) // 2]:.2f}'
              f'{runs[0]["info_ms"]:>18.3f}')


if __name__ == '__main__':
    main()
