"""Building blocks shared by the mmris heads."""
from .attention import MultiHeadAttention
from .convex_upsample import ConvexUpsample
from .msda import FP32MultiScaleDeformableAttention
from .svla import FeedForward, SVLALayer

__all__ = [
    'ConvexUpsample', 'MultiHeadAttention',
    'FP32MultiScaleDeformableAttention', 'FeedForward', 'SVLALayer'
]
