from .refcoco import RefCOCODataset
from .refer import ReferAnnotations, decode_segmentation
from .transforms import *  # noqa: F401,F403

__all__ = ['RefCOCODataset', 'ReferAnnotations', 'decode_segmentation']
