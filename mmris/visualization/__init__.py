from .ris_drawing import (blend_mask, draw_ris_result, draw_sentences,
                          ris_palette, wrap_text)

__all__ = [
    'blend_mask', 'draw_ris_result', 'draw_sentences', 'ris_palette',
    'wrap_text'
]
