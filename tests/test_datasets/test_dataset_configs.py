"""The dataset base configs build and run end to end on the sample."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner

from mmris.datasets.cfg_utils import override_data_cfg
from mmris.models import RISDataPreprocessor

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'datasets')
CONFIGS = {
    'refer_refcoco.py': ['val', 'testA', 'testB'],
    'refer_refcoco+.py': ['val', 'testA', 'testB'],
    'refer_refcocog_umd.py': ['val', 'test'],
    'refer_refcocog_google.py': ['val'],
    'refer_refcocom.py': [
        f'{name}/{split}'
        for name, splits in (('refcoco_unc', ('val', 'testA', 'testB')),
                             ('refcoco+_unc', ('val', 'testA', 'testB')),
                             ('refcocog_umd', ('val', 'test')))
        for split in splits
    ],
}


def loader(cfg, name):
    dl = cfg[name]
    dl.update(batch_size=4, num_workers=0, persistent_workers=False)
    return Runner.build_dataloader(dl, seed=0)


def test_config_basenames_are_unique():
    """mim resolves configs by basename; ours must not shadow a leaf."""
    assert all(not name.startswith('refcoco') for name in CONFIGS)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_end_to_end(name, refcocom_data_root, tokenizer_path,
                           mmris_scope):
    data_root, _ = refcocom_data_root
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    assert cfg.data_root == 'data/' and cfg.bert_path == 'bert-base-uncased'
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_dataloader.sampler == dict(
        type='DefaultSampler', shuffle=True)
    # train, val and 1-8 test datasets, one tokenizer per pipeline
    assert override_data_cfg(
        cfg._cfg_dict, data_root, tokenizer_path,
        serialize_data=False) >= 2 + 2 + len(CONFIGS[name])

    batch = next(iter(loader(cfg, 'train_dataloader')))
    pre = RISDataPreprocessor()
    out = pre(batch, training=True)
    assert out['inputs'].shape[1:] == (3, 448, 448)
    sample = out['data_samples'][0]
    assert sample.gt_sem_seg.data.shape == (1, 448, 448)
    assert sample.input_ids.shape == (20, )
    assert sample.split == 'train'

    val = loader(cfg, 'val_dataloader')
    assert val.dataset.metainfo['split'] == 'val'

    # the test run: a perfect "prediction" per sentence, a table per split
    test = loader(cfg, 'test_dataloader')
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = test.dataset.metainfo
    sizes = {}
    for batch in test:
        samples = pre(batch)['data_samples']
        for item in samples:
            item.pred_sem_seg = item.gt_sem_seg.clone()
            sizes[(item.dataset_name, item.split)] = sizes.get(
                (item.dataset_name, item.split), 0) + 1
        evaluator.process(samples, batch)
    metrics = evaluator.evaluate(len(test.dataset))
    groups = CONFIGS[name]
    if len(groups) == 1:
        assert metrics['oIoU'] == 100.0 and metrics['P@0.9'] == 100.0
    else:
        assert sorted(k[:-len('/oIoU')] for k in metrics
                      if k.endswith('/oIoU')) == sorted(groups)
        assert all(v == 100.0 for v in metrics.values())
    assert sum(sizes.values()) == len(test.dataset)
