from .paths import MINILM, resolve_pretrained_path
from .setup_env import register_all_modules

__all__ = ['MINILM', 'register_all_modules', 'resolve_pretrained_path']
