"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT``."""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Test an mmris model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump the predictions (pickle) to this file')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images (mask and sentence) are saved')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config (key=value pairs)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta', action='store_true', help='test time augmentation')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args):
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError(
            '--show/--show-dir need default_hooks.visualization '
            '(SegVisualizationHook) in the config.')
    hook = hooks['visualization']
    hook['draw'] = True
    # mmseg's hook draws every 50th sample by default; a user asking for
    # pictures wants every one unless the config says otherwise
    hook.setdefault('interval', 1)
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        visualizer = cfg.visualizer
        visualizer['save_dir'] = args.show_dir
    return cfg


def main():
    args = parse_args()
    from mmris.utils.registry_hints import registry_hints

    # an unknown ``type`` name gets a "did you mean ...?" suggestion
    with registry_hints():
        run(args)


def run(args):
    """Load the config, build the Runner and test."""
    from mmris.engine import adapt_cfg_to_device
    from mmris.utils.malloc import tune_cpu_malloc
    from mmris.utils.tool_cfg import load_tool_config
    cfg = load_tool_config(args)

    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint "{args.checkpoint}" not found')
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise RuntimeError('--tta needs tta_model and tta_pipeline in '
                               'the config; this config defines none.')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    else:
        # a checkpoint of another model is refused instead of scored
        cfg.custom_hooks = list(cfg.get('custom_hooks', None) or []) + \
            [dict(type='CheckpointMatchHook')]

    adapt_cfg_to_device(cfg)
    # CPU runs only: same numbers, faster steps (mmris/utils/malloc.py)
    tune_cpu_malloc()
    runner = Runner.from_cfg(cfg)
    if args.out is not None:
        # the raw predictions (masks, logits, sentences) as a pickle
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
