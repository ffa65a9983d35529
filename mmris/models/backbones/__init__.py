from .prompt_encoder import CARISPromptEncoder
from .swin import CARISSwinTransformer

__all__ = ['CARISSwinTransformer', 'CARISPromptEncoder']
