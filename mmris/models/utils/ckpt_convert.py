"""Map checkpoints of the original CARIS / MaskRIS code to mmris names."""
from collections import OrderedDict
from typing import Dict, List, Tuple

# original prefix -> mmris prefix
PREFIX_MAP = (('pixel_decoder.', 'decode_head.'), )
# Tensors of the original that mmris does not have, and why.
DROPPED = {
    # MaskRIS's token-level mask embedding: defined but never used by its
    # training loop (spec caris.md section 6), so it never trains.
    'backbone.vis_encoder.mask_token': 'unused by MaskRIS training',
}


def find_state_dict(checkpoint: dict, source: str = 'checkpoint') -> dict:
    """The state dict of a checkpoint saved by the original code
    (``{'model': ...}``), by mmengine (``{'state_dict': ...}``) or bare."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{source} is a {type(checkpoint).__name__}, not a '
                        'checkpoint dict')
    for key in ('model', 'state_dict'):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def caris_to_mmris(state_dict: Dict) -> Tuple[OrderedDict, List[str]]:
    """Rename a CARIS/MaskRIS state dict to mmris's ``RISEncoderDecoder``.

    ``backbone.vis_encoder.*``, ``backbone.lang_encoder.*`` and
    ``backbone.conditional_prompts.*`` keep their names (mmris modules use
    the original layouts); ``pixel_decoder.*`` becomes ``decode_head.*``; a
    DDP ``module.`` prefix is stripped.

    Returns:
        (converted state dict, names of the dropped tensors)
    """
    converted, dropped = OrderedDict(), []
    for name, tensor in state_dict.items():
        if name.startswith('module.'):
            name = name[len('module.'):]
        if name in DROPPED:
            dropped.append(name)
            continue
        for old, new in PREFIX_MAP:
            if name.startswith(old):
                name = new + name[len(old):]
                break
        converted[name] = tensor
    return converted, dropped
