"""The paths a user edits, set once at the top of a config.

mmengine resolves config variables when a file is read, so a leaf config
(or ``--cfg-options``) that sets ``data_root`` does not reach the datasets
that a ``_base_`` file built from its own ``data_root``. The tools
therefore apply three top-level keys to every place that uses them:

=================== ====================================================
key                 applied to
=================== ====================================================
``data_root``       ``data_root`` of every ``RefCOCODataset``
``bert_path``       ``tokenizer`` of every ``BertTokenize`` and
                    ``pretrained`` of every ``BertTextEncoder`` that loads
                    pretrained weights (not those built from ``config=``)
``swin_checkpoint`` ``pretrained`` of every ``CARISSwinTransformer``
=================== ====================================================

A key that is absent or ``None`` changes nothing.
"""
from typing import Any, Callable, Dict

from mmris.datasets.cfg_utils import DATASET_TYPES, TOKENIZE_TYPES

TEXT_ENCODER_TYPES = ('BertTextEncoder', 'mmris.BertTextEncoder')
SWIN_TYPES = ('CARISSwinTransformer', 'mmris.CARISSwinTransformer')


def _set(key: str, types: tuple, only_if_set: bool = False) -> Callable:

    def apply(node: dict, value: Any) -> bool:
        if node.get('type') not in types:
            return False
        if only_if_set and node.get(key) is None:
            return False
        node[key] = value
        return True

    return apply


RULES: Dict[str, tuple] = {
    'data_root': (_set('data_root', DATASET_TYPES), ),
    'bert_path': (_set('tokenizer', TOKENIZE_TYPES),
                  _set('pretrained', TEXT_ENCODER_TYPES, only_if_set=True)),
    'swin_checkpoint': (_set('pretrained', SWIN_TYPES), ),
}


def _walk(node: Any, rule: Callable, value: Any) -> int:
    changed = 0
    if isinstance(node, dict):
        changed += int(rule(node, value))
        for child in node.values():
            changed += _walk(child, rule, value)
    elif isinstance(node, (list, tuple)):
        for child in node:
            changed += _walk(child, rule, value)
    return changed


def apply_config_paths(cfg: Any) -> Dict[str, int]:
    """Apply the top-level path keys of ``cfg`` everywhere (in place).

    Returns:
        dict: For each key that was set, how many entries it changed.
    """
    report = {}
    for key, rules in RULES.items():
        value = cfg.get(key, None)
        if value is None:
            continue
        report[key] = sum(
            _walk(cfg[part], rule, value) for rule in rules
            for part in cfg.keys() if part not in RULES)
    return report
