"""A grid of image | ground truth | prediction, with the sentence and IoU.

Run a checkpoint on a few samples of a config's dataloader::

    python tools/analysis_tools/show_predictions.py CONFIG CKPT \\
        --split val --num 8 --out grid.png [--data-root DATA_PATH]

or read the pickle of ``tools/test.py CONFIG CKPT --out results.pkl``
(images are read from their ``img_path``)::

    python tools/analysis_tools/show_predictions.py --pkl results.pkl \\
        --num 8 --out grid.png

Rows are samples; cells are shown at the network input size (the masks'
size with the default ``test_cfg.output_size='input'``), scaled to
``--cell-size`` pixels.
"""
import argparse
import pickle
from typing import List, Optional

import cv2
import numpy as np
from mmengine.config import DictAction

GT_COLOR = (0, 200, 0)  # BGR green
PRED_COLOR = (60, 20, 220)  # BGR red
CAPTION_H = 22


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Grid of image | GT | prediction for RIS samples')
    parser.add_argument('config', nargs='?', help='config file')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file')
    parser.add_argument(
        '--pkl', help='predictions of tools/test.py --out (no model run)')
    parser.add_argument(
        '--split',
        default='val',
        choices=['train', 'val', 'test'],
        help='dataloader of the config (default: val)')
    parser.add_argument('--num', type=int, default=8, help='samples shown')
    parser.add_argument('--start', type=int, default=0, help='first index')
    parser.add_argument('--out', default='grid.png', help='output PNG')
    parser.add_argument(
        '--cell-size', type=int, default=256, help='side of a cell (px)')
    parser.add_argument('--device', default=None, help='cuda or cpu')
    parser.add_argument('--data-root', help='DATA_PATH of the datasets')
    parser.add_argument(
        '--tokenizer', help='tokenizer folder / pkg:// path / hub name')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings (key=value pairs)')
    args = parser.parse_args(argv)
    if args.pkl is None and (args.config is None or args.checkpoint is None):
        parser.error('give CONFIG and CHECKPOINT, or --pkl RESULTS')
    return args


# ----------------------------------------------------------------------
# drawing
# ----------------------------------------------------------------------
def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two binary masks (1.0 when both are empty)."""
    pred, gt = pred > 0, gt > 0
    union = np.logical_or(pred, gt).sum()
    return float(np.logical_and(pred, gt).sum() / union) if union else 1.0


def cell(image: np.ndarray, mask: Optional[np.ndarray], color,
         size: int) -> np.ndarray:
    """``image`` with ``mask`` in ``color`` (None: the image alone),
    resized to ``size`` x ``size``."""
    from mmris.visualization import blend_mask
    picture = image.copy()
    if mask is not None:
        blend_mask(picture, (mask > 0).astype(np.uint8), color, 0.55)
    picture = cv2.resize(picture, (size, size), interpolation=cv2.INTER_AREA)
    picture[:, -1] = 255  # a thin separator between the columns
    return picture


def caption(text: str, width: int) -> np.ndarray:
    """A white band with ``text`` (cut to the band width)."""
    band = np.full((CAPTION_H, width, 3), 255, np.uint8)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.45
    while text and cv2.getTextSize(text, font, scale, 1)[0][0] > width - 8:
        text = text[:-4] + '...' if len(text) > 4 else ''
    cv2.putText(band, text, (4, CAPTION_H - 7), font, scale, (0, 0, 0), 1,
                cv2.LINE_AA)
    return band


def render_row(image: np.ndarray, gt: Optional[np.ndarray], pred: np.ndarray,
               sentence: str, size: int) -> np.ndarray:
    """Caption above image | GT | prediction."""
    iou = '' if gt is None else f'  IoU {mask_iou(pred, gt):.2f}'
    cells = [
        cell(image, None, None, size),
        cell(image, gt, GT_COLOR, size) if gt is not None else np.full(
            (size, size, 3), 128, np.uint8),
        cell(image, pred, PRED_COLOR, size)
    ]
    row = np.concatenate(cells, axis=1)
    return np.concatenate([caption(f'"{sentence}"{iou}', row.shape[1]), row])


def render_grid(rows: List[np.ndarray], size: int) -> np.ndarray:
    """Stack the rows under a header naming the columns."""
    header = np.concatenate([
        caption(name, size) for name in ('image', 'ground truth', 'prediction')
    ],
                            axis=1)
    return np.concatenate([header] + rows)


# ----------------------------------------------------------------------
# samples from a model run
# ----------------------------------------------------------------------
def load_config(args):
    """The config with the paths and overrides of the command line."""
    from mmengine.config import Config

    from mmris.datasets.cfg_utils import override_data_cfg
    from mmris.utils.config_paths import apply_config_paths
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    apply_config_paths(cfg)
    override_data_cfg(cfg, args.data_root, args.tokenizer)
    cfg.model.setdefault('test_cfg', {})['output_size'] = 'input'
    return cfg


def build_model(cfg, checkpoint: str, device: Optional[str]):
    import torch

    from mmris.engine.hooks import checked_state_dict
    from mmris.registry import MODELS
    from mmris.utils.compat import load_local_checkpoint
    model = MODELS.build(cfg.model)
    state = checked_state_dict(
        model,
        load_local_checkpoint(checkpoint, map_location='cpu'),
        source=f'checkpoint "{checkpoint}"')
    model.load_state_dict(state, strict=False)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    return model.to(device).eval()


def run_samples(args) -> List[dict]:
    """Image (network input, BGR), GT, prediction and sentence of the
    samples ``start .. start + num`` of the chosen dataloader."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    from mmris.registry import DATASETS
    from mmris.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('mmris')
    cfg = load_config(args)
    dataset = DATASETS.build(cfg[f'{args.split}_dataloader']['dataset'])
    model = build_model(cfg, args.checkpoint, args.device)
    stop = min(len(dataset), args.start + args.num)
    samples = []
    for index in range(args.start, stop):
        packed = dataset[index]
        with torch.no_grad():
            result = model.test_step(pseudo_collate([packed]))[0]
        samples.append(
            dict(
                image=packed['inputs'].numpy().transpose(1, 2, 0),
                gt=result.gt_sem_seg.data[0].cpu().numpy()
                if 'gt_sem_seg' in result else None,
                pred=result.pred_sem_seg.data[0].cpu().numpy(),
                sentence=result.metainfo.get('sentence', '')))
    return samples


# ----------------------------------------------------------------------
# samples from a tools/test.py --out pickle
# ----------------------------------------------------------------------
def _mask_of(record: dict, key: str) -> Optional[np.ndarray]:
    value = record.get(key)
    if value is None:
        return None
    data = value['data'] if isinstance(value, dict) else value.data
    return np.asarray(data.cpu().numpy() if hasattr(data, 'cpu') else data)[0]


def _image_of(record: dict, shape) -> np.ndarray:
    """The record's image resized to ``shape`` (grey if unreadable)."""
    import mmcv
    try:
        image = mmcv.imread(
            record['img_path'],
            flag='color_ignore_orientation',
            backend='pillow')
    except Exception:  # missing image: still show the masks
        image = None
    if image is None:
        return np.full(tuple(shape) + (3, ), 128, np.uint8)
    return cv2.resize(image, (shape[1], shape[0]))


def pickle_samples(args) -> List[dict]:
    """Samples from the DumpResults pickle (dicts of data samples)."""
    with open(args.pkl, 'rb') as f:
        records = pickle.load(f)
    samples = []
    for record in records[args.start:args.start + args.num]:
        pred = _mask_of(record, 'pred_sem_seg')
        gt = _mask_of(record, 'gt_sem_seg')
        if gt is None or gt.shape != pred.shape:
            ori = _mask_of(record, 'ori_gt_sem_seg')
            gt = ori if ori is not None and ori.shape == pred.shape else (
                cv2.resize(
                    gt.astype(np.uint8),
                    pred.shape[::-1],
                    interpolation=cv2.INTER_NEAREST)
                if gt is not None else None)
        samples.append(
            dict(
                image=_image_of(record, pred.shape),
                gt=gt,
                pred=pred,
                sentence=record.get('sentence', '')))
    return samples


def main(argv=None) -> None:
    args = parse_args(argv)
    samples = pickle_samples(args) if args.pkl else run_samples(args)
    if not samples:
        raise ValueError('no sample to show (check --start / --num)')
    rows = [
        render_row(
            np.ascontiguousarray(s['image']), s['gt'], s['pred'],
            s['sentence'], args.cell_size) for s in samples
    ]
    import mmcv
    mmcv.imwrite(render_grid(rows, args.cell_size), args.out)
    print(f'wrote {len(rows)} samples to {args.out}')


if __name__ == '__main__':
    main()
