from .checkpoint_check import (CheckpointMatchHook, checked_state_dict,
                               compare_state_dicts)
from .progress_bar import ProgressBarHook
from .rng_state import (RNGStateHook, capture_rng_state, preserved_rng_state,
                        restore_rng_state)

__all__ = [
    'CheckpointMatchHook', 'ProgressBarHook', 'RNGStateHook',
    'capture_rng_state', 'checked_state_dict', 'compare_state_dicts',
    'preserved_rng_state', 'restore_rng_state'
]
