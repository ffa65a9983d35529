"""Save RefCOCO samples as images: picture, mask overlay and sentence.

    python tools/misc/browse_dataset.py CONFIG --output-dir work_dirs/browse
    python tools/misc/browse_dataset.py CONFIG --split test --num 20 \
        --data-root data/refer_sample/

By default each sample goes through the config's pipeline, so the file
shows what the network sees (448x448, the resized mask, the WordPiece
tokens after truncation, and the MaskRIS hidden patches/tokens when the
pipeline draws them). ``--original`` shows the image at its stored size with
the decoded mask instead, before any resizing.
"""
import argparse
import os
import os.path as osp
import textwrap

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from PIL import Image, ImageDraw

OVERLAY = np.array([255, 40, 40], dtype=np.float32)
LINE_CHARS = 70


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Save RefCOCO samples with mask overlay and sentence.')
    parser.add_argument('config', help='config with the dataloaders')
    parser.add_argument(
        '--split',
        default='train',
        choices=['train', 'val', 'test'],
        help='which dataloader of the config (default: train)')
    parser.add_argument('--output-dir', default='work_dirs/browse_dataset')
    parser.add_argument('--num', type=int, default=10, help='samples to save')
    parser.add_argument('--start', type=int, default=0, help='first index')
    parser.add_argument(
        '--original',
        action='store_true',
        help='original image size and decoded mask, no pipeline')
    parser.add_argument(
        '--data-root',
        help='DATA_PATH for every RefCOCO dataset of the config (a plain '
        '--cfg-options data_root=... does not reach them)')
    parser.add_argument(
        '--tokenizer', help='tokenizer folder / pkg:// path / hub name')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override other config settings (key=value pairs)')
    return parser.parse_args(argv)


def build_dataset(cfg, split: str):
    from mmris.registry import DATASETS
    dataset_cfg = cfg[f'{split}_dataloader']['dataset']
    return DATASETS.build(dataset_cfg)


def find_tokenizer(dataset):
    """The BertTokenize of a dataset's pipeline (ConcatDataset: first)."""
    from mmris.datasets.transforms import BertTokenize
    parts = getattr(dataset, 'datasets', [dataset])
    for part in parts:
        for transform in getattr(part.pipeline, 'transforms', []):
            if isinstance(transform, BertTokenize):
                return transform
    return None


def overlay(img_rgb: np.ndarray,
            mask: np.ndarray,
            hidden: np.ndarray = None) -> np.ndarray:
    """Red translucent referent; MaskRIS-hidden patches darkened."""
    out = img_rgb.astype(np.float32)
    if hidden is not None and hidden.any():
        ph, pw = out.shape[0] // hidden.shape[0], out.shape[1] // \
            hidden.shape[1]
        dark = np.kron(hidden, np.ones((ph, pw), bool))
        out[:dark.shape[0], :dark.shape[1]][dark] *= 0.3
    fg = mask.astype(bool)
    out[fg] = 0.5 * out[fg] + 0.5 * OVERLAY
    return out.clip(0, 255).astype(np.uint8)


def caption(lines, width: int) -> Image.Image:
    """A white band with the wrapped text lines."""
    wrapped = []
    for line in lines:
        wrapped += textwrap.wrap(line, LINE_CHARS) or ['']
    band = Image.new('RGB', (width, 14 * len(wrapped) + 8), 'white')
    draw = ImageDraw.Draw(band)
    for i, line in enumerate(wrapped):
        draw.text((4, 4 + 14 * i), line, fill='black')
    return band


def compose(img_rgb, mask, lines, hidden=None) -> Image.Image:
    picture = Image.fromarray(overlay(img_rgb, mask, hidden))
    band = caption(lines, picture.width)
    canvas = Image.new('RGB', (picture.width, picture.height + band.height),
                       'white')
    canvas.paste(picture, (0, 0))
    canvas.paste(band, (0, picture.height))
    return canvas


def token_line(tokenizer, ids, key='tokens') -> str:
    if tokenizer is None:
        return f'{key}: ' + ' '.join(map(str, ids))
    tokens = tokenizer.hf_tokenizer.convert_ids_to_tokens(
        [int(i) for i in ids])
    return f'{key}: ' + ' '.join(tokens)


def render_packed(packed, tokenizer) -> Image.Image:
    """A pipeline output (PackRISInputs) as a picture."""
    sample = packed['data_samples']
    img = packed['inputs'].numpy().transpose(1, 2, 0)[..., ::-1]  # BGR->RGB
    mask = sample.gt_sem_seg.data[0].numpy()
    meta = sample.metainfo
    lines = [
        f'"{meta.get("sentence")}"',
        f'{meta.get("dataset_name")} {meta.get("split")} '
        f'ref {meta.get("ref_id")} sent {meta.get("sent_id")} '
        f'ann {meta.get("ann_id")} original {meta.get("ori_shape")}'
    ]
    hidden = None
    if 'input_ids' in sample:
        num = int(sample.attention_mask.sum())
        ids = sample.input_ids[:num].tolist()
        line = token_line(tokenizer, ids)
        sep = getattr(
            getattr(tokenizer, 'hf_tokenizer', None), 'sep_token_id', None)
        if num == len(sample.input_ids) and sep is not None and \
                ids[-1] != sep:
            line += f' (cut at {num} ids, no [SEP])'
        lines.append(line)
    if 'masked_input_ids' in sample:
        num = int(sample.attention_mask.sum())
        lines.append(
            token_line(tokenizer, sample.masked_input_ids[:num].tolist(),
                       'masked'))
    if 'img_patch_mask' in sample:
        hidden = sample.img_patch_mask.numpy()
    return compose(np.ascontiguousarray(img), mask, lines, hidden)


def render_original(dataset, index: int) -> Image.Image:
    """The stored image and the decoded mask of an item, no pipeline."""
    from mmris.datasets.transforms import LoadRefImage, LoadRefMask
    info = dataset.get_data_info(index)
    results = LoadRefMask()(LoadRefImage()(info))
    lines = [
        f'"{info["sentence"]}"',
        f'{info["dataset_name"]} {info["split"]} ref {info["ref_id"]} '
        f'sent {info["sent_id"]} ann {info["ann_id"]} '
        f'{info["ori_height"]}x{info["ori_width"]}'
    ]
    return compose(results['img'][..., ::-1], results['gt_seg_map'], lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    import mmris.datasets  # noqa: F401 (registers the transforms)
    from mmris.datasets.cfg_utils import override_data_cfg
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    override_data_cfg(cfg._cfg_dict, args.data_root, args.tokenizer)
    init_default_scope(cfg.get('default_scope', 'mmris'))
    dataset = build_dataset(cfg, args.split)
    tokenizer = find_tokenizer(dataset)
    os.makedirs(args.output_dir, exist_ok=True)
    stop = min(len(dataset), args.start + args.num)
    for index in range(args.start, stop):
        if args.original:
            info = dataset.get_data_info(index)
            picture = render_original(dataset, index)
        else:
            packed = dataset[index]
            info = packed['data_samples'].metainfo
            picture = render_packed(packed, tokenizer)
        name = (f'{index:06d}_{info["dataset_name"]}_{info["split"]}_ref'
                f'{info["ref_id"]}_sent{info["sent_id"]}.png')
        picture.save(osp.join(args.output_dir, name))
        print(f'{name}: "{info["sentence"]}"')
    print(f'saved {stop - args.start} sample(s) to {args.output_dir}')


if __name__ == '__main__':
    main()
