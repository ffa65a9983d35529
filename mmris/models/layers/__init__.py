"""Building blocks shared by the mmris heads."""
from .attention import MultiHeadAttention
from .msda import FP32MultiScaleDeformableAttention
from .svla import FeedForward, SVLALayer

__all__ = [
    'MultiHeadAttention', 'FP32MultiScaleDeformableAttention', 'FeedForward',
    'SVLALayer'
]
