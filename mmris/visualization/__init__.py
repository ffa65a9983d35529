from .ris_drawing import (blend_mask, draw_ris_result, draw_sentences,
                          ris_palette, wrap_text)
from .ris_visualizer import RISVisualizer

__all__ = [
    'blend_mask', 'draw_ris_result', 'draw_sentences', 'ris_palette',
    'wrap_text', 'RISVisualizer'
]
