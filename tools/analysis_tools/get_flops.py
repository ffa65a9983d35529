"""Parameters and FLOPs of a referring segmentor, by component.

    python tools/analysis_tools/get_flops.py CONFIG [--shape 448] \
        [--no-pretrained] [--tokens 20]

FLOPs are counted with ``torch.utils.flop_counter`` for one image and one
sentence of ``--tokens`` WordPieces: matrix products and convolutions at
2 FLOPs per multiply-add; softmax, norms, bilinear sampling and resizing
are not counted (the convention of the spec's reference figure, 242.7
GFLOPs for CARIS at 448).
"""
import argparse
from collections import OrderedDict

import torch
from mmengine.config import Config, DictAction
from torch.utils.flop_counter import FlopCounterMode


def parse_args():
    parser = argparse.ArgumentParser(
        description='Count parameters and FLOPs of a RIS model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs='+', default=[448],
                        help='input size: S or H W (default 448)')
    parser.add_argument('--tokens', type=int, default=20,
                        help='sentence length in WordPieces (default 20)')
    parser.add_argument(
        '--no-pretrained', action='store_true',
        help='build without loading any weights (Swin checkpoint off, the '
        'text encoder built from its architecture: bert-base-uncased for '
        'CARIS), so nothing has to be downloaded')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings (key=value)')
    return parser.parse_args()


def strip_pretrained(model_cfg) -> None:
    """Random weights, same architecture, nothing loaded."""
    backbone = model_cfg.get('backbone', {})
    if 'vis_encoder' in backbone:
        backbone.vis_encoder.pretrained = None
    lang = backbone.get('lang_encoder')
    if lang is not None and lang.get('pretrained') is not None:
        # BertConfig() defaults are the bert-base-uncased architecture
        lang.pretrained = None
        lang.config = lang.get('config') or dict()


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def parameter_table(model) -> 'OrderedDict[str, int]':
    rows = OrderedDict(total=count(model))
    for name, child in model.named_children():
        if name in ('data_preprocessor', 'loss_decode'):
            continue
        grandchildren = list(child.named_children())
        if name == 'backbone' and grandchildren:
            for sub, module in grandchildren:
                rows[f'{name}.{sub}'] = count(module)
        else:
            rows[name] = count(child)
    return rows


def dummy_inputs(height: int, width: int, tokens: int):
    from mmseg.structures import SegDataSample
    image = torch.zeros(1, 3, height, width)
    ids = torch.zeros(tokens, dtype=torch.long)
    ids[0], ids[1:tokens - 1], ids[tokens - 1] = 101, 1996, 102
    sample = SegDataSample(metainfo=dict(img_shape=(height, width)))
    sample.set_data(
        dict(input_ids=ids, attention_mask=torch.ones(tokens,
                                                      dtype=torch.long)))
    return image, [sample]


def flops_by_module(model, image, samples):
    counter = FlopCounterMode(display=False, depth=3)
    with torch.no_grad(), counter:
        model(image, samples, mode='tensor')
    per_module = counter.get_flop_counts()
    return counter.get_total_flops(), per_module


def main():
    args = parse_args()
    from mmris.registry import MODELS
    from mmris.utils import register_all_modules
    from mmris.utils.config_paths import apply_config_paths
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    apply_config_paths(cfg)
    if args.no_pretrained:
        strip_pretrained(cfg.model)
    height, width = (args.shape * 2)[:2]
    model = MODELS.build(cfg.model).eval()

    print(f'config: {args.config}')
    print(f'{"parameters":<36}{"count":>16}')
    for name, value in parameter_table(model).items():
        print(f'{name:<36}{value:>16,}')
    image, samples = dummy_inputs(height, width, args.tokens)
    total, per_module = flops_by_module(model, image, samples)
    print(f'\ninput {height}x{width}, {args.tokens} tokens: '
          f'{total / 1e9:.1f} GFLOPs (2 x multiply-adds of matmul/conv)')
    for name in sorted(per_module):
        depth = name.count('.')
        if name == 'Global' or depth > 2:
            continue
        flops = sum(per_module[name].values())
        print(f'  {name:<52}{flops / 1e9:>10.2f}')


if __name__ == '__main__':
    main()
