"""Draw referring segmentation results: coloured masks and sentences.

The functions work on uint8 BGR images (the mmcv convention) of any size;
the font size and the line wrapping follow the image size, so an 8x8 and an
8000x6000 image both give a usable picture.
"""
import colorsys
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

Color = Tuple[int, int, int]

FONT = cv2.FONT_HERSHEY_SIMPLEX
# The first colours (BGR) are well separated; more are generated.
BASE_PALETTE: Tuple[Color, ...] = (
    (60, 20, 220),  # red
    (240, 176, 0),  # blue
    (0, 200, 0),  # green
    (0, 215, 255),  # yellow
    (230, 0, 230),  # magenta
    (255, 255, 0),  # cyan
    (0, 128, 255),  # orange
    (180, 105, 255),  # pink
)


def ris_palette(num: int) -> List[Color]:
    """``num`` distinct BGR colours (fixed ones first, then HSV steps)."""
    colors = list(BASE_PALETTE[:num])
    for i in range(len(colors), num):
        hue = (i * 0.618033988749895) % 1.0  # golden-ratio hue steps
        r, g, b = colorsys.hsv_to_rgb(hue, 0.9, 0.95)
        colors.append((int(b * 255), int(g * 255), int(r * 255)))
    return colors


def blend_mask(image: np.ndarray,
               mask: np.ndarray,
               color: Color,
               alpha: float = 0.5) -> np.ndarray:
    """Blend ``color`` into ``image`` where ``mask`` is non-zero (in place).

    Only the mask's bounding box is touched, so a small object on a huge
    image costs little memory.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    if mask.shape[:2] != image.shape[:2]:
        raise ValueError(f'mask {mask.shape[:2]} and image '
                         f'{image.shape[:2]} differ in size')
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return image
    cols = np.flatnonzero(mask.any(axis=0))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    region, inside = image[box], mask[box] > 0
    painted = region[inside].astype(np.float32) * (1 - alpha) + \
        np.asarray(color, np.float32) * alpha
    region[inside] = np.clip(np.rint(painted), 0, 255).astype(np.uint8)
    return image


def font_scale_for(width: int, height: int) -> Tuple[float, int]:
    """Font scale and thickness readable at the image size."""
    side = min(width, height)
    scale = float(np.clip(side / 700.0, 0.3, 6.0))
    return scale, max(1, int(round(scale * 1.5)))


def wrap_text(text: str, max_width: int, scale: float,
              thickness: int) -> List[str]:
    """Split ``text`` into lines at most ``max_width`` pixels wide.

    Words longer than a line are cut by characters; at least one character
    goes on every line, so the loop always ends.
    """

    def fits(line: str) -> bool:
        width = cv2.getTextSize(line, FONT, scale, thickness)[0][0]
        return width <= max_width

    lines: List[str] = []
    current = ''
    for word in text.split():
        candidate = f'{current} {word}' if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            lines.append(current)
        while not fits(word) and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and not fits(word[:cut]):
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines or ['']


def draw_sentences(image: np.ndarray,
                   sentences: Sequence[str],
                   colors: Sequence[Color],
                   margin: Optional[int] = None) -> np.ndarray:
    """Write the sentences at the top left on a dark box (in place).

    Each sentence is written in its mask colour and wrapped to the image
    width; text that does not fit the image height is clipped by OpenCV.
    """
    height, width = image.shape[:2]
    scale, thickness = font_scale_for(width, height)
    if margin is None:
        margin = max(1, int(round(4 * scale)))
    line_h = cv2.getTextSize('Ag', FONT, scale, thickness)[0][1] + \
        2 * margin
    blocks = []
    for sentence, color in zip(sentences, colors):
        for line in wrap_text(sentence, width - 2 * margin, scale, thickness):
            blocks.append((line, color))
    box_h = min(height, line_h * len(blocks) + margin)
    box_w = max(
        cv2.getTextSize(line, FONT, scale, thickness)[0][0]
        for line, _ in blocks) + 2 * margin
    box_w = min(width, box_w)
    if box_h > 0 and box_w > 0:
        roi = image[:box_h, :box_w]
        roi[...] = (roi.astype(np.float32) * 0.35).astype(np.uint8)
    for i, (line, color) in enumerate(blocks):
        baseline_y = (i + 1) * line_h - margin
        cv2.putText(image, line, (margin, baseline_y), FONT, scale,
                    tuple(int(c) for c in color), thickness, cv2.LINE_AA)
    return image


def draw_ris_result(image: np.ndarray,
                    masks: Sequence[np.ndarray],
                    sentences: Sequence[str],
                    alpha: float = 0.5,
                    colors: Optional[Sequence[Color]] = None,
                    with_text: bool = True,
                    with_contour: bool = True) -> np.ndarray:
    """A copy of ``image`` with every mask in its colour and the sentences.

    Args:
        image (np.ndarray): uint8 ``HxWx3`` BGR image.
        masks (Sequence[np.ndarray]): ``HxW`` masks (non-zero = referent),
            one per sentence.
        sentences (Sequence[str]): The referring expressions.
        alpha (float): Opacity of the mask colour. Defaults to 0.5.
        colors (Sequence[tuple], optional): BGR colour per mask; defaults to
            :func:`ris_palette`.
        with_text (bool): Write the sentences. Defaults to True.
        with_contour (bool): Outline every mask in its colour. Defaults to
            True.

    Returns:
        np.ndarray: The drawing, uint8 BGR of the image size.
    """
    if len(masks) != len(sentences):
        raise ValueError(f'{len(masks)} masks but {len(sentences)} '
                         'sentences')
    colors = list(colors) if colors is not None else ris_palette(len(masks))
    canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
    thickness = max(1, min(canvas.shape[:2]) // 300)
    for mask, color in zip(masks, colors):
        mask = np.asarray(mask).astype(np.uint8, copy=False)
        blend_mask(canvas, mask, color, alpha)
        if with_contour and mask.any():
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(canvas, contours, -1, tuple(map(int, color)),
                             thickness)
    if with_text and sentences:
        draw_sentences(canvas, sentences, colors)
    return canvas
