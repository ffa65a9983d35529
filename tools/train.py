"""Train a referring segmentation model: ``python tools/train.py CONFIG``."""
import argparse
import logging
import os

from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Train an mmris model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest checkpoint '
        'in the work dir when no path is given')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='mixed precision training (falls back to fp32 without CUDA)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, e.g. '
        'train_dataloader.batch_size=2 (key=value pairs)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank on torch>=2.0
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    from mmris.utils.registry_hints import registry_hints

    # an unknown ``type`` name gets a "did you mean ...?" suggestion
    with registry_hints():
        run(args)


def run(args):
    """Load the config, build the Runner and train."""
    from mmris.engine import adapt_cfg_to_device, enable_amp
    from mmris.utils.malloc import tune_cpu_malloc
    from mmris.utils.tool_cfg import load_tool_config
    cfg = load_tool_config(args)

    if args.amp:
        enable_amp(cfg)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    adapt_cfg_to_device(cfg)
    # CPU runs only: same numbers, faster steps (mmris/utils/malloc.py)
    tune_cpu_malloc()

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        from mmris.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    runner.train()
    print_log('Training finished.', logger='current', level=logging.INFO)


if __name__ == '__main__':
    main()
