"""The worked examples of docs/customize.md build and train 2 iterations."""
import os
import os.path as osp
import shutil

import pytest

from mmris.testing.tools import REPO, dry_run_config, tiny_model_options

EXAMPLES = osp.join(REPO, 'configs', 'examples')


def run(cfg, min_iters=2):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter >= min_iters
    return runner.test()


@pytest.fixture
def mydata_root(refer_data_root, tmp_path):
    """A user's own REFER-format set: RefCOCOg (umd) copied as ``mydata``
    with its refs file named refs(unc).p."""
    root = tmp_path / 'data'
    os.makedirs(root / 'refer' / 'mydata')
    os.symlink(osp.join(refer_data_root, 'train2014'), root / 'train2014')
    source = osp.join(refer_data_root, 'refer', 'refcocog')
    shutil.copy(osp.join(source, 'refs(umd).p'),
                root / 'refer' / 'mydata' / 'refs(unc).p')
    shutil.copy(osp.join(source, 'instances.json'),
                root / 'refer' / 'mydata' / 'instances.json')
    return str(root)


def test_new_dataset_example(mydata_root, tmp_path):
    config = osp.join(EXAMPLES, 'maskris_swin-b_bert_50e_mydata.py')
    cfg = dry_run_config(config, tiny_model_options(mydata_root, 1),
                         tmp_path / 'work')
    assert cfg.test_dataloader.dataset.dataset == 'mydata'
    metrics = run(cfg)
    assert 'oIoU' in metrics


def test_new_backbone_example(refer_data_root, tmp_path):
    config = osp.join(EXAMPLES, 'maskris_r50_bert_50e_refcoco.py')
    # the tiny text encoder and data options; the example's ResNet-50 and
    # full-width decoder stay (only its ImageNet download is skipped)
    options = [
        o for o in tiny_model_options(refer_data_root, 1)
        if not o.startswith(('model.backbone.vis_encoder.',
                             'model.backbone.conditional_prompts.in_',
                             'model.decode_head.'))
    ] + [
        'model.backbone.vis_encoder.init_cfg=None',
        'model.decode_head.text_channels=32'
    ]
    cfg = dry_run_config(config, options, tmp_path / 'work', scale=(64, 64))
    assert cfg.model.backbone.vis_encoder.type == 'ResNetV1c'
    metrics = run(cfg)
    assert any(key.endswith('oIoU') for key in metrics)
