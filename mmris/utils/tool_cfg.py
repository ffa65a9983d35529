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
    return cfg
