from .bert import BertTextEncoder
from .conditional_prompt import ConditionalPrompt
from .pixel_word_attention import PixelWordAttention
from .sentence_film import SentenceFiLM

__all__ = [
    'BertTextEncoder', 'ConditionalPrompt', 'PixelWordAttention',
    'SentenceFiLM'
]
