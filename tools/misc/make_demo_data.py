"""Write the synthetic ``shapes`` referring data set (docs/demo_data.md).

Example::

    python tools/misc/make_demo_data.py data/demo --seed 0

then read it with ``RefCOCODataset(data_root='data/demo', dataset='shapes',
split_by='unc', split='train')``. A complete data set written with the same
arguments is left as it is; ``--force`` rewrites it.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil

from mmris.datasets.synthetic import (DATASET_NAME, SPLITS,
                                      generate_shapes_refer)


# generator options newer than some data sets on disk, with their defaults
OPTION_DEFAULTS = dict(distinct_colors=False, size_scale=1.0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the synthetic shapes referring data set in the '
        'REFER layout (OUT_ROOT/train2014, OUT_ROOT/refer/shapes).')
    parser.add_argument('out_root', help='the DATA_PATH to write')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=200)
    parser.add_argument('--num-testA', type=int, default=200)
    parser.add_argument('--num-testB', type=int, default=200)
    parser.add_argument('--num-testOcc', type=int, default=200)
    parser.add_argument(
        '--image-size',
        type=int,
        nargs='+',
        default=[128],
        help='S or H W (default 128)')
    parser.add_argument(
        '--distinct-colors',
        action='store_true',
        help='every object of an image gets its own colour (easier)')
    parser.add_argument(
        '--size-scale',
        type=float,
        default=1.0,
        help='multiplier of the object sizes (default 1)')
    parser.add_argument(
        '--force',
        action='store_true',
        help='rewrite even if a complete set with these arguments exists')
    return parser.parse_args(argv)


def _params(args) -> dict:
    size = args.image_size
    if len(size) not in (1, 2):
        raise SystemExit('--image-size takes S or H W')
    return dict(
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        num_testA=args.num_testA,
        num_testB=args.num_testB,
        num_testOcc=args.num_testOcc,
        image_size=size[0] if len(size) == 1 else tuple(size),
        distinct_colors=args.distinct_colors,
        size_scale=args.size_scale)


def _existing(out_root: str, params: dict):
    """The summary of a complete set written with ``params``, or None."""
    path = osp.join(out_root, 'refer', DATASET_NAME, 'summary.json')
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        summary = json.load(f)
    size = params['image_size']
    size = [size, size] if isinstance(size, int) else list(size)
    old = summary.get('params', {})
    wanted = dict(params, image_size=size)
    # sets written before an option existed were made with its default
    old = dict(OPTION_DEFAULTS, **old)
    if any(old.get(key) != value for key, value in wanted.items()):
        return None
    n_images = summary.get('files', {}).get('images', -1)
    for image_id in range(1, n_images + 1):
        name = f'{DATASET_NAME}_{image_id:06d}.jpg'
        if not osp.isfile(osp.join(out_root, 'train2014', name)):
            return None
    return summary


def _remove_old(out_root: str) -> None:
    """Remove only what the generator writes (the folder may hold COCO)."""
    shutil.rmtree(osp.join(out_root, 'refer', DATASET_NAME), True)
    pattern = osp.join(out_root, 'train2014', f'{DATASET_NAME}_*.jpg')
    for path in glob.glob(pattern):
        os.remove(path)


def print_summary(summary: dict, out_root: str) -> None:
    print(f'{DATASET_NAME} ({summary["split_by"]}) in {out_root}, seed '
          f'{summary["params"]["seed"]}, images '
          f'{"x".join(map(str, summary["params"]["image_size"]))}')
    print(f'{"split":<8} {"images":>7} {"refs":>7} {"sentences":>10}')
    total = [0, 0, 0]
    for split in SPLITS:
        c = summary['splits'][split]
        print(f'{split:<8} {c["images"]:>7} {c["refs"]:>7} '
              f'{c["sentences"]:>10}')
        for i, key in enumerate(('images', 'refs', 'sentences')):
            total[i] += c[key]
    print(f'{"total":<8} {total[0]:>7} {total[1]:>7} {total[2]:>10}')


def main(argv=None) -> dict:
    args = parse_args(argv)
    params = _params(args)
    summary = None if args.force else _existing(args.out_root, params)
    if summary is not None:
        print('complete data set found, nothing to do (--force rewrites)')
    else:
        _remove_old(args.out_root)
        summary = generate_shapes_refer(args.out_root, **params)
    print_summary(summary, args.out_root)
    return summary


if __name__ == '__main__':
    main()
