"""Refuse a checkpoint that does not belong to the model (tools/test.py)."""
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from mmris.registry import HOOKS

SHOWN = 10


def _shown(keys: List[str]) -> str:
    more = f' ... (+{len(keys) - SHOWN})' if len(keys) > SHOWN else ''
    return ', '.join(keys[:SHOWN]) + more


def strip_module_prefix(state: Dict) -> Dict:
    """Keys without the ``module.`` of a saved model wrapper."""
    return {(k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state.items()}


def compare_state_dicts(model_state: Dict, ckpt_state: Dict) -> dict:
    """Missing, unexpected and shape-mismatched keys of a checkpoint."""
    ckpt_state = strip_module_prefix(ckpt_state)
    mismatched = [
        f'{k} {tuple(ckpt_state[k].shape)} vs model '
        f'{tuple(v.shape)}' for k, v in model_state.items()
        if k in ckpt_state and hasattr(ckpt_state[k], 'shape')
        and tuple(ckpt_state[k].shape) != tuple(v.shape)
    ]
    return dict(
        missing=sorted(k for k in model_state if k not in ckpt_state),
        unexpected=sorted(k for k in ckpt_state if k not in model_state),
        mismatched=mismatched,
        matched=sum(k in ckpt_state for k in model_state))


def checked_state_dict(model: nn.Module,
                       checkpoint: dict,
                       source: Optional[str] = None,
                       min_matched: float = 0.9) -> Dict:
    """The state dict of ``checkpoint`` (``module.`` prefixes stripped),
    after checking that it belongs to ``model``.

    Raises a ``RuntimeError`` (prefixed with ``source``, e.g. the file)
    when shapes disagree or fewer than ``min_matched`` of the model's
    state keys are present; logs one warning with the missing/unexpected
    keys otherwise.
    """
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        raise RuntimeError(f'{source or "the checkpoint"} holds no '
                           'state_dict')
    state = strip_module_prefix(state)
    model_state = model.state_dict()
    report = compare_state_dicts(model_state, state)
    total = max(len(model_state), 1)
    message = _message(report, total)
    if source:
        message = f'{source}: {message}'
    if report['mismatched'] or report['matched'] / total < min_matched:
        raise RuntimeError(message)
    if report['missing'] or report['unexpected']:
        print_log(message, logger='current', level=30)
    return state


def _message(report: dict, total: int) -> str:
    return (
        'the checkpoint does not match the model of this config: '
        f'{report["matched"]} of {total} model keys found; missing: '
        f'{_shown(report["missing"]) or "none"}; unexpected: '
        f'{_shown(report["unexpected"]) or "none"}; shape mismatch: '
        f'{_shown(report["mismatched"]) or "none"}. Check the config '
        '(a CARIS release checkpoint needs '
        'tools/model_converters/caris2mmris.py first).')


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """Check a loaded checkpoint against the model before it is applied.

    mmengine loads with ``strict=False``: a checkpoint of another model only
    logs long key lists and the test then reports meaningless metrics. This
    hook raises a ``RuntimeError`` when shapes disagree or fewer than
    ``min_matched`` of the model's parameters are in the checkpoint, and
    logs one warning with the missing/unexpected keys otherwise.

    Args:
        min_matched (float): Smallest fraction of the model's state keys
            the checkpoint must hold. Defaults to 0.9.
    """

    priority = 'VERY_HIGH'

    def __init__(self, min_matched: float = 0.9) -> None:
        self.min_matched = min_matched

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        checked_state_dict(model, checkpoint, min_matched=self.min_matched)
