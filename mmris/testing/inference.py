"""A tiny CARIS config and checkpoint for inference and tool tests."""
import os.path as osp
from typing import Optional

from .tools import MINILM_VOCAB, TINY_MODEL_CONFIG

TINY_RIS_CONFIG = '''\
_base_ = [{model!r}]
default_scope = 'mmris'
data_root = {data_root!r}
img_scale = ({size}, {size})
test_pipeline = [
    dict(type='LoadRefImage'),
    dict(type='LoadRefMask'),
    dict(type='Resize', scale=img_scale, keep_ratio=False, backend='pillow'),
    dict(type='BertTokenize', tokenizer={tokenizer!r}, max_length=20),
    dict(type='PackRISInputs'),
]
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    dataset=dict(
        type='RefCOCODataset',
        data_root=data_root,
        dataset='refcoco',
        split_by='unc',
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
'''


def write_tiny_ris_config(folder: str,
                          data_root: Optional[str] = None,
                          size: int = 64,
                          tokenizer: str = MINILM_VOCAB) -> str:
    """Write ``tiny_ris.py``: ``caris_tiny`` with a ``size`` x ``size``
    test pipeline (offline tokenizer) and a RefCOCO val loader on
    ``data_root``. Returns its path."""
    path = osp.join(folder, 'tiny_ris.py')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(
            TINY_RIS_CONFIG.format(
                model=TINY_MODEL_CONFIG,
                data_root=data_root or 'data/',
                size=size,
                tokenizer=tokenizer))
    return path


def save_random_checkpoint(config: str, path: str, seed: int = 0) -> str:
    """Build the config's model with random weights and save it as an
    mmengine checkpoint (``state_dict`` and ``meta``)."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmris.registry import MODELS
    from mmris.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('mmris')
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(config).model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path
