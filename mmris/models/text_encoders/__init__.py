from .bert import BertTextEncoder
from .conditional_prompt import ConditionalPrompt
from .sentence_film import SentenceFiLM

__all__ = ['BertTextEncoder', 'ConditionalPrompt', 'SentenceFiLM']
