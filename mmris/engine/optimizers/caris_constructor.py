"""CARIS's six AdamW parameter groups."""
from typing import List, Tuple

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS

from mmris.registry import OPTIM_WRAPPER_CONSTRUCTORS

# Substrings that put a parameter into a no-decay group (CARIS's rules).
VISION_NO_DECAY = ('norm', 'absolute_pos_embed',
                   'relative_position_bias_table', 'position_embeddings')
HEAD_NO_DECAY = ('lang_prompts', 'norm', 'Norm', 'absolute_pos_embed',
                 'relative_position_bias_table', 'prompt')
TEXT_NO_DECAY = ('Norm', 'embeddings')


def caris_group(name: str) -> Tuple[str, bool]:
    """Which part a parameter belongs to and whether it is weight-decayed.

    The rules are substring tests on the full parameter name, exactly as the
    reference's ``params_to_optimize`` (spec caris.md section 4):

    * text encoder (``lang_encoder``): LayerNorms and every embedding table
      are not decayed, the rest (biases included) is;
    * vision encoder (``vis_encoder``): norms and relative-position tables
      are not decayed, the rest (biases included) is;
    * everything else ("head"): prompts and LayerNorms are not decayed; the
      rest is, including biases and the decoder's GroupNorms, whose mmcv
      name ``gn`` contains no "norm". mmengine's ``norm_decay_mult`` would
      exempt those GroupNorms and is therefore not used. These rules look at
      the name inside the module (``in_linears.0.weight``, not
      ``backbone.conditional_prompts.in_linears.0.weight``): the
      ConditionalPrompt linears are decayed, as the reference's measured
      group sizes show (spec: group 4 holds 25,600 parameters).

    Returns:
        (part, decay) with part in ``text``, ``vision``, ``head``.
    """
    if 'lang_encoder' in name:
        return 'text', not any(key in name for key in TEXT_NO_DECAY)
    if 'vis_encoder' in name:
        return 'vision', not any(key in name for key in VISION_NO_DECAY)
    local = name.split('.', 2)[-1] if name.startswith('backbone.') \
        else name.split('.', 1)[-1]
    return 'head', not any(key in local for key in HEAD_NO_DECAY)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class CARISOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Build the optimizer with CARIS's six parameter groups.

    ===== ======================================= ============= ==========
    group parameters                              lr            wd
    ===== ======================================= ============= ==========
    0     text encoder norms and embeddings       0.1 x base    0
    1     rest of the text encoder                0.1 x base    wd
    2     vision encoder norms, position tables   0.1 x base    0
    3     rest of the vision encoder              0.1 x base    wd
    4     prompts and LayerNorms of the rest      base          0
    5     everything else                         base          wd
    ===== ======================================= ============= ==========

    ``paramwise_cfg`` accepts ``encoder_lr_mult`` (default 0.1, the
    multiplier of groups 0-3) and ``vision_lr_mult`` (default: the value of
    ``encoder_lr_mult``), which replaces it for the vision groups 2-3, e.g.
    1.0 for a Swin trained from scratch beside a pretrained text encoder.
    Frozen parameters (``requires_grad=False``)
    are left out. Empty groups are dropped.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = self.param_groups(model)
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(
            wrapper_cfg, default_args=dict(optimizer=optimizer))

    def param_groups(self, model: nn.Module) -> List[dict]:
        """The six groups, in the reference's order."""
        unknown = set(self.paramwise_cfg) - {'encoder_lr_mult',
                                             'vision_lr_mult'}
        if unknown:
            raise KeyError(f'CARISOptimWrapperConstructor: unknown '
                           f'paramwise_cfg keys {sorted(unknown)}; only '
                           '"encoder_lr_mult" and "vision_lr_mult" are '
                           'supported')
        text_mult = self.paramwise_cfg.get('encoder_lr_mult', 0.1)
        lr_mult = dict(
            text=text_mult,
            vision=self.paramwise_cfg.get('vision_lr_mult', text_mult),
            head=1.0)
        order = [('text', False), ('text', True), ('vision', False),
                 ('vision', True), ('head', False), ('head', True)]
        members = {key: [] for key in order}
        for name, param in model.named_parameters():
            if param.requires_grad:
                members[caris_group(name)].append(param)
        groups = []
        for part, decay in order:
            if not members[(part, decay)]:
                continue
            groups.append(
                dict(
                    params=members[(part, decay)],
                    lr=self.base_lr * lr_mult[part],
                    weight_decay=(self.base_wd or 0.0) if decay else 0.0))
        return groups
