"""Activation checkpointing shared by the Swin, BERT and decoder layers."""
from typing import Callable

import torch
import torch.utils.checkpoint as cp
from torch import Tensor


def checkpoint_if(enabled: bool, function: Callable, *args):
    """``function(*args)``, under activation checkpointing when ``enabled``
    and a backward pass will need it (grad mode on and a tensor argument
    that requires grad); plainly otherwise (inference, frozen inputs).

    The recomputation restores the forward's RNG state (torch's default
    ``preserve_rng_state``), so dropout draws the same masks and the
    gradients equal those of the plain call.
    """
    if enabled and torch.is_grad_enabled() and any(
            isinstance(arg, Tensor) and arg.requires_grad for arg in args):
        return cp.checkpoint(function, *args, use_reentrant=False)
    return function(*args)
