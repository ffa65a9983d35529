"""Segment what sentences refer to in your own images.

Usage (the OpenMMLab order: inputs, then the config, then options)::

    # one image, one or more sentences (one mask and colour each)
    python demo/image_demo.py IMAGE "sentence" ["sentence" ...] CONFIG \\
        --weights CKPT --out-file out.png [--out-dir DIR] [--device cpu]

    # a folder: a JSON file maps image file names to their sentences
    python demo/image_demo.py FOLDER --texts-json sentences.json CONFIG \\
        --weights CKPT --out-dir DIR

Positional arguments: the first is the image (or folder), the last is the
config (a ``.py`` file), every one in between is a sentence. Quote each
sentence; one that starts with ``-`` must come after a ``--`` (put the
options before it). A folder also takes sentences on the command line
instead of ``--texts-json``: then every image gets the same sentences.

Outputs:

* ``--out-file out.png``: the overlay (all masks, distinct colours, the
  sentences written on it), plus ``out_mask<j>.png`` (0/255) per sentence
  and ``out.json`` (COCO RLE per sentence).
* ``--out-dir DIR``: ``DIR/vis/<image>.png``, ``DIR/masks/<image>_<j>.png``
  and ``DIR/predictions.json`` (records with ``image``, ``sentence``,
  ``score``, ``size`` and ``segmentation``: RLE with ``counts`` a str).

Without ``--weights`` the network has random weights and its masks mean
nothing, so the demo refuses (exit code 2) unless ``--allow-random-weights``
is given.
"""
import json
import os
import os.path as osp
import sys
from argparse import ArgumentParser, Namespace
from typing import Dict, List, Tuple

import mmcv
import numpy as np
from mmengine.config import Config, DictAction

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def build_parser() -> ArgumentParser:
    """The command line of the demo."""
    parser = ArgumentParser(
        usage='%(prog)s IMAGE_OR_FOLDER [SENTENCE ...] CONFIG [options]',
        description='Referring image segmentation of your own images',
        epilog='Positionals: IMAGE_OR_FOLDER [SENTENCE ...] CONFIG (the '
        'last one is the .py config; those in between are sentences).')
    parser.add_argument(
        'positionals',
        nargs='+',
        metavar='ARG',
        help='image file or folder, the sentences, then the config file')
    parser.add_argument('--weights', help='checkpoint file')
    parser.add_argument(
        '--texts-json',
        help='folder mode: JSON mapping image file names (in the folder) to '
        'a sentence or a list of sentences')
    parser.add_argument('--out-file', help='overlay PNG (single image)')
    parser.add_argument(
        '--out-dir', help='folder for overlays, masks and predictions.json')
    parser.add_argument(
        '--device', default=None, help='cuda or cpu (default: cuda if any)')
    parser.add_argument(
        '--alpha', type=float, default=0.5, help='mask opacity')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='sentences per forward')
    parser.add_argument(
        '--no-text',
        action='store_true',
        help='do not write the sentences on the overlay')
    parser.add_argument(
        '--allow-random-weights',
        action='store_true',
        help='run without --weights (random network, meaningless masks)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. bert_path=/path/to/bert')
    return parser


def parse_args(argv=None) -> Namespace:
    """Parse and split the positionals into image, sentences and config."""
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    pos = args.positionals
    if len(pos) < 2:
        parser.error('give at least IMAGE_OR_FOLDER and CONFIG')
    if not pos[-1].endswith('.py'):
        parser.error(f'the last positional argument must be the config '
                     f'(a .py file), got "{pos[-1]}"; sentences go between '
                     'the image and the config')
    args.image, args.sentences, args.config = pos[0], pos[1:-1], pos[-1]
    check_args(parser, args)
    return args


def check_args(parser: ArgumentParser, args: Namespace) -> None:
    """Refuse inconsistent combinations with exit code 2."""
    folder = osp.isdir(args.image)
    if args.texts_json and not folder:
        parser.error('--texts-json needs a folder as the first argument')
    if args.texts_json and args.sentences:
        parser.error('give the sentences either on the command line or in '
                     '--texts-json, not both')
    if not args.texts_json and not args.sentences:
        parser.error('no sentence given: put them between the image and '
                     'the config' + (' or use --texts-json' if folder else ''))
    if folder and not args.out_dir:
        parser.error('folder mode writes to --out-dir; give one')
    if not folder and not (args.out_file or args.out_dir):
        parser.error('give --out-file and/or --out-dir')
    if args.out_file and folder:
        parser.error('--out-file is for a single image; use --out-dir')
    if args.weights is None and not args.allow_random_weights:
        parser.error('no checkpoint given (--weights CKPT): the network '
                     'would have random weights and its masks would be '
                     'meaningless. Train one (e.g. `make demo`, see README) '
                     'or pass --allow-random-weights to run anyway.')


def collect_folder(folder: str, texts_json: str,
                   sentences: List[str]) -> Tuple[List[str], list]:
    """Image paths of a folder and their sentences."""
    if texts_json:
        with open(texts_json, encoding='utf-8') as f:
            mapping: Dict[str, object] = json.load(f)
        if not isinstance(mapping, dict) or not mapping:
            raise ValueError(f'{texts_json} must map image file names to '
                             'sentences (a non-empty JSON object)')
        missing = [
            name for name in mapping if not osp.isfile(osp.join(folder, name))
        ]
        if missing:
            raise FileNotFoundError(f'{texts_json} names images that are '
                                    f'not in {folder}: {missing}')
        names = sorted(mapping)
        texts = [mapping[name] for name in names]
    else:
        names = sorted(
            name for name in os.listdir(folder)
            if name.lower().endswith(IMAGE_EXTENSIONS))
        if not names:
            raise FileNotFoundError(f'no image in {folder}')
        texts = [list(sentences) for _ in names]
    return [osp.join(folder, name) for name in names], texts


def write_out_file(out_file: str, result: dict) -> List[str]:
    """The overlay, one 0/255 mask PNG per sentence and the RLE JSON."""
    from mmris.apis import prediction_record
    stem = osp.splitext(out_file)[0]
    mmcv.imwrite(result['visualization'][0], out_file)
    written = [out_file]
    for pred in result['predictions']:
        path = f'{stem}_mask{pred["sentence_index"]}.png'
        mmcv.imwrite(pred['mask'] * np.uint8(255), path)
        written.append(path)
    with open(f'{stem}.json', 'w', encoding='utf-8') as f:
        json.dump([prediction_record(p) for p in result['predictions']],
                  f,
                  indent=1)
    written.append(f'{stem}.json')
    return written


def main(argv=None) -> int:
    args = parse_args(argv)
    if not osp.exists(args.image):
        raise FileNotFoundError(f'image or folder "{args.image}" does not '
                                'exist')
    from mmris.apis import RISInferencer

    if args.weights is None:
        print('WARNING: no checkpoint given; the weights are random and the '
              'masks are meaningless (--allow-random-weights).')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    inferencer = RISInferencer(cfg, weights=args.weights, device=args.device)
    if osp.isdir(args.image):
        images, texts = collect_folder(args.image, args.texts_json,
                                       args.sentences)
    else:
        images, texts = args.image, args.sentences
    result = inferencer(
        images,
        texts,
        batch_size=args.batch_size,
        alpha=args.alpha,
        with_text=not args.no_text,
        out_dir=args.out_dir or '')
    for pred in result['predictions']:
        print(f'{pred["image"]} | "{pred["sentence"]}": score '
              f'{pred["score"]:.3f}, {int(pred["mask"].sum())} pixels')
    if args.out_file:
        for path in write_out_file(args.out_file, result):
            print(f'wrote {path}')
    if args.out_dir:
        print(f'wrote overlays, masks and predictions.json to {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
