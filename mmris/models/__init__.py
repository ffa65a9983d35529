from . import (backbones, decode_heads, losses, segmentors,  # noqa: F401
               text_encoders)
from .data_preprocessor import RISDataPreprocessor  # noqa: F401
