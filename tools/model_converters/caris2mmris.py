"""Convert a checkpoint of the original CARIS or MaskRIS code to mmris.

    python tools/model_converters/caris2mmris.py CARIS_CKPT OUT.pth \
        [--config configs/caris/caris_swin-b_bert_50e_refcoco.py]

With ``--config`` the converted weights are loaded into the model of that
config (strictly) and every missing or unexpected key is reported, so a
wrong file is caught before a long test run.
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('src', help='checkpoint of lsa1997/CARIS or '
                        'naver-ai/maskris (e.g. from HF saliu/CARIS)')
    parser.add_argument('dst', help='output mmris checkpoint')
    parser.add_argument(
        '--config', help='check that the result loads into this config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of --config (key=value)')
    return parser.parse_args()


def check_against_config(state_dict, config, cfg_options=None):
    """Load strictly into the config's model; print every mismatch."""
    from mmengine.config import Config

    from mmris.registry import MODELS
    from mmris.utils import register_all_modules
    from mmris.utils.config_paths import apply_config_paths
    register_all_modules()
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    apply_config_paths(cfg)
    model = MODELS.build(cfg.model)  # weights come from the checkpoint
    result = model.load_state_dict(state_dict, strict=False)
    for kind in ('missing_keys', 'unexpected_keys'):
        keys = getattr(result, kind)
        print(f'{kind}: {len(keys)}')
        for key in keys:
            print(f'  {key}')
    return not (result.missing_keys or result.unexpected_keys)


def main():
    args = parse_args()
    from mmris.models.utils.ckpt_convert import caris_to_mmris, find_state_dict
    from mmris.utils.compat import load_local_checkpoint
    checkpoint = load_local_checkpoint(args.src)
    state_dict, dropped = caris_to_mmris(
        find_state_dict(checkpoint, args.src))
    print(f'{len(state_dict)} tensors converted; dropped: {dropped or "-"}')
    ok = True
    if args.config:
        ok = check_against_config(state_dict, args.config, args.cfg_options)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    tmp = args.dst + '.tmp'
    torch.save(
        dict(state_dict=state_dict, meta=dict(converted_from=args.src)), tmp)
    os.replace(tmp, args.dst)  # never leave a truncated output
    print(f'saved {args.dst}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
