from .bert import BertTextEncoder
from .conditional_prompt import ConditionalPrompt

__all__ = ['BertTextEncoder', 'ConditionalPrompt']
