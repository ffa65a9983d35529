from mmengine.config import Config

from mmris.testing.tools import REPO
from mmris.utils.config_paths import apply_config_paths

CONFIG = f'{REPO}/configs/maskris/maskris_swin-b_bert_50e_refcocom.py'


def walk(node, kind):
    if isinstance(node, dict):
        if node.get('type') == kind:
            yield node
        for child in node.values():
            yield from walk(child, kind)
    elif isinstance(node, (list, tuple)):
        for child in node:
            yield from walk(child, kind)


def test_top_level_paths_reach_every_dataset_tokenizer_and_encoder():
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(
        dict(data_root='/d/', bert_path='/bert/', swin_checkpoint='/s.pth'))
    report = apply_config_paths(cfg)
    datasets = list(walk(cfg._cfg_dict, 'RefCOCODataset'))
    tokenizers = list(walk(cfg._cfg_dict, 'BertTokenize'))
    assert len(datasets) >= 10 and report['data_root'] == len(datasets)
    assert all(d['data_root'] == '/d/' for d in datasets)
    assert all(t['tokenizer'] == '/bert/' for t in tokenizers)
    assert cfg.model.backbone.lang_encoder.pretrained == '/bert/'
    assert cfg.model.backbone.vis_encoder.pretrained == '/s.pth'


def test_none_changes_nothing_and_config_built_encoders_stay():
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.lang_encoder = dict(
        type='BertTextEncoder', pretrained=None, config=dict())
    cfg.merge_from_dict(dict(swin_checkpoint=None, bert_path='/bert/'))
    report = apply_config_paths(cfg)
    assert 'swin_checkpoint' not in report
    assert cfg.model.backbone.vis_encoder.pretrained.endswith('22k.pth')
    assert cfg.model.backbone.lang_encoder.pretrained is None
