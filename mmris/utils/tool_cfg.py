"""What tools/train.py and tools/test.py do to a config before the Runner."""
import os.path as osp

from mmengine.config import Config

from .config_paths import apply_config_paths


def load_tool_config(args) -> Config:
    """Load ``args.config`` with the common OpenMMLab command-line options.

    Registers every module, applies ``--launcher``, ``--cfg-options``, the
    top-level path keys (:func:`mmris.utils.config_paths.apply_config_paths`)
    and
    ``--work-dir`` (CLI > config > ``./work_dirs/<config name>``) and makes
    ``mmris`` the default scope unless the config names another.
    """
    from .setup_env import register_all_modules
    register_all_modules(init_default_scope=False)

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    apply_config_paths(cfg)
    cfg.setdefault('default_scope', 'mmris')

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    check_cfg_values(cfg)
    return cfg


LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and \
        value > 0


def check_cfg_values(cfg) -> None:
    """Fail fast, naming the key, on out-of-range values.

    Checked before anything is built (so before the weights are loaded):
    the loaders' ``batch_size`` (> 0) and ``num_workers`` (>= 0), the train
    loop's ``max_epochs``/``max_iters``/``val_interval`` (> 0), and every
    transform of every dataset pipeline, built once so that its own
    argument checks (e.g. ``MaskRIS.img_mask_ratio`` in [0, 1)) run now.

    Raises:
        ValueError: ``<key>: <problem> (check the config / --cfg-options)``.
        KeyError: an unknown transform type (the tools add a 'did you mean').
    """
    for loader in LOADERS:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        _check_loader(loader, loader_cfg)
        _check_pipelines(f'{loader}.dataset', loader_cfg.get('dataset'))
    train_cfg = cfg.get('train_cfg') or {}
    for key in ('max_epochs', 'max_iters', 'val_interval'):
        if key in train_cfg and not _positive_int(train_cfg[key]):
            _bad(f'train_cfg.{key}', train_cfg[key], 'a positive integer')


def _bad(key: str, value, expected: str) -> None:
    raise ValueError(f'{key} must be {expected}, got {value!r} (check the '
                     'config and --cfg-options).')


def _check_loader(name: str, loader_cfg) -> None:
    batch_size = loader_cfg.get('batch_size', 1)
    if not _positive_int(batch_size):
        _bad(f'{name}.batch_size', batch_size, 'a positive integer')
    workers = loader_cfg.get('num_workers', 0)
    if not isinstance(workers, int) or isinstance(workers, bool) or \
            workers < 0:
        _bad(f'{name}.num_workers', workers, 'an integer >= 0')


def _check_pipelines(key: str, dataset_cfg) -> None:
    """Build each transform of ``dataset_cfg`` (and wrapped datasets)."""
    if not isinstance(dataset_cfg, dict):
        return
    for index, child in enumerate(dataset_cfg.get('datasets') or []):
        _check_pipelines(f'{key}.datasets.{index}', child)
    _check_pipelines(f'{key}.dataset', dataset_cfg.get('dataset'))
    from mmris.registry import TRANSFORMS
    for index, transform in enumerate(dataset_cfg.get('pipeline') or []):
        if not isinstance(transform, dict):
            continue
        try:
            TRANSFORMS.build(transform)
        except (ValueError, TypeError, AssertionError) as err:
            raise ValueError(
                f'{key}.pipeline.{index} ({transform.get("type")}): '
                f'{err} (check the config and --cfg-options).') from err
