"""The mmris registry scope reaches mmris, mmseg and mmdet modules."""
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmris.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from mmris.utils import register_all_modules


def test_register_all_modules_sets_mmris_scope():
    register_all_modules()
    assert DefaultScope.get_current_instance().scope_name == 'mmris'
    for registry, name in [(MODELS, 'RISDataPreprocessor'),
                           (DATASETS, 'RefCOCODataset'),
                           (TRANSFORMS, 'BertTokenize'),
                           (METRICS, 'RISMetric')]:
        assert registry.get(name) is not None, name
        assert name in registry.module_dict, f'{name} not in mmris scope'


def test_mmris_registries_are_children_of_mmseg():
    from mmseg.registry import MODELS as MMSEG_MODELS
    assert MODELS.parent is MMSEG_MODELS
    assert MODELS.scope == 'mmris'


def test_config_mixing_mmseg_mmdet_and_mmris_modules(tmp_path):
    cfg_file = tmp_path / 'mixed.py'
    cfg_file.write_text('''
default_scope = 'mmris'
model = dict(
    data_preprocessor=dict(type='RISDataPreprocessor'),   # mmris
    backbone=dict(type='ResNetV1c', depth=18),            # mmseg
    neck=dict(type='mmdet.ChannelMapper',                 # mmdet, by prefix
              in_channels=[512], out_channels=8, num_outs=1))
pipeline = [
    dict(type='LoadRefMask'),                             # mmris
    dict(type='RandomFlip', prob=0.0),                    # mmseg/mmcv
]
''')
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(cfg_file))
    init_default_scope(cfg.default_scope)
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    backbone = MODELS.build(cfg.model.backbone)
    neck = MODELS.build(cfg.model.neck)
    assert type(preprocessor).__module__.startswith('mmris.')
    assert type(backbone).__module__.startswith('mmseg.')
    assert type(neck).__module__.startswith('mmdet.')
    feats = backbone(torch.zeros(1, 3, 64, 64))
    assert neck(feats[-1:])[0].shape == (1, 8, 2, 2)
    transforms = [TRANSFORMS.build(t) for t in cfg.pipeline]
    assert type(transforms[0]).__module__.startswith('mmris.')
    assert not type(transforms[1]).__module__.startswith('mmris.')
