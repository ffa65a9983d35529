"""Point an existing config at another DATA_PATH or tokenizer.

mmengine resolves config variables when the file is read, so
``--cfg-options data_root=...`` changes only the top-level ``data_root``
key, not the datasets built from it. These helpers rewrite every
``RefCOCODataset`` / ``BertTokenize`` entry of a loaded config instead.
"""
from typing import Any, Optional

DATASET_TYPES = ('RefCOCODataset', 'mmris.RefCOCODataset')
TOKENIZE_TYPES = ('BertTokenize', 'mmris.BertTokenize')


def override_data_cfg(cfg: Any,
                      data_root: Optional[str] = None,
                      tokenizer: Optional[str] = None,
                      **dataset_kwargs) -> int:
    """Set ``data_root`` (and ``dataset_kwargs``) of every RefCOCO dataset
    and ``tokenizer`` of every ``BertTokenize`` in a (nested) config.

    Returns:
        int: How many entries were changed.
    """
    changed = 0
    if isinstance(cfg, dict):
        kind = cfg.get('type')
        if kind in DATASET_TYPES and (data_root is not None or dataset_kwargs):
            if data_root is not None:
                cfg['data_root'] = data_root
            cfg.update(dataset_kwargs)
            changed += 1
        if kind in TOKENIZE_TYPES and tokenizer is not None:
            cfg['tokenizer'] = tokenizer
            changed += 1
        for value in cfg.values():
            changed += override_data_cfg(value, data_root, tokenizer,
                                         **dataset_kwargs)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            changed += override_data_cfg(value, data_root, tokenizer,
                                         **dataset_kwargs)
    return changed
