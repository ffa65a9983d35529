"""Visualizer of referring segmentation samples for the runner's hooks.

``tools/test.py CONFIG CKPT --show-dir DIR`` draws every visualized test
sample with mmseg's ``SegVisualizationHook``; with
``visualizer=dict(type='RISVisualizer')`` (the default runtime of mmris)
the picture is mmseg's ``GT | prediction`` pair with the referring
sentence written in a caption band under it, so one can tell which object
the masks are about.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from mmseg.visualization import SegLocalVisualizer

from mmris.registry import VISUALIZERS
from .ris_drawing import FONT, font_scale_for, wrap_text

Color = Tuple[int, int, int]


def resize_sem_seg(sem_seg: PixelData, size: Sequence[int]) -> PixelData:
    """``sem_seg`` at ``size`` (H, W), nearest neighbour; as is if equal.

    RIS models predict at the network input size (e.g. the 448x448
    reference protocol) while the hook draws on the original image.
    """
    data = sem_seg.cpu().data
    data = data.numpy() if hasattr(data, 'numpy') else np.asarray(data)
    height, width = int(size[0]), int(size[1])
    if tuple(data.shape[-2:]) == (height, width):
        return PixelData(data=data)
    label = data.reshape(data.shape[-2:]).astype(np.uint8)
    label = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST)
    return PixelData(data=label[None].astype(np.int64))


def pick_gt(data_sample: SegDataSample) -> Optional[PixelData]:
    """The ground truth to draw: the original-size mask when packed
    (``PackRISInputs(keep_ori_mask=True)``), else ``gt_sem_seg``."""
    for key in ('ori_gt_sem_seg', 'gt_sem_seg'):
        if key in data_sample:
            return data_sample.get(key)
    return None


def unique_name(name: str, data_sample: Optional[SegDataSample]) -> str:
    """Add the sentence id to ``name``.

    The hook names pictures after the image file, and an image has several
    referring sentences: without the id each one overwrites the previous.
    """
    if data_sample is None:
        return name
    meta = data_sample.metainfo
    for key in ('sent_id', 'sentence_index', 'ref_id'):
        if meta.get(key) is not None:
            stem, ext = osp.splitext(name)
            return f'{stem}_{key.split("_")[0]}{meta[key]}{ext}'
    return name


def caption_band(
    text: str,
    width: int,
    panel_size: Sequence[int],
    color: Color = (255, 255, 255),
    background: Color = (32, 32, 32)
) -> np.ndarray:
    """A ``? x width`` uint8 band with ``text`` wrapped to ``width``.

    The font size follows ``panel_size`` (H, W of one drawn image), so the
    caption reads like the labels drawn on the image.
    """
    scale, thickness = font_scale_for(int(panel_size[1]), int(panel_size[0]))
    margin = max(2, int(round(6 * scale)))
    lines = wrap_text(text, max(1, width - 2 * margin), scale, thickness)
    (_, text_h), baseline = cv2.getTextSize('Ag', FONT, scale, thickness)
    line_h = text_h + baseline + margin
    band = np.empty((line_h * len(lines) + margin, width, 3), np.uint8)
    band[...] = background
    for i, line in enumerate(lines):
        origin = (margin, (i + 1) * line_h - baseline)
        cv2.putText(band, line, origin, FONT, scale, color, thickness,
                    cv2.LINE_AA)
    return band


@VISUALIZERS.register_module()
class RISVisualizer(SegLocalVisualizer):
    """mmseg's ``SegLocalVisualizer`` that also writes the sentence.

    ``add_datasample`` draws the ground truth and the prediction side by
    side as mmseg does (masks of another size than the image are resized
    to it) and adds a caption band with ``metainfo['sentence']`` below;
    long sentences are wrapped to the picture width.

    Args:
        name (str): The instance name. Defaults to 'visualizer'.
        with_sentence (bool): Write the sentence. Defaults to True.
        text_color (tuple): RGB colour of the caption. Defaults to white.
        **kwargs: The other arguments of :class:`SegLocalVisualizer`
            (``vis_backends``, ``save_dir``, ``classes``, ``palette``,
            ``alpha``, ...).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 with_sentence: bool = True,
                 text_color: Color = (255, 255, 255),
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.with_sentence = with_sentence
        self.text_color = tuple(int(c) for c in text_color)

    def _draw_panels(self, image: np.ndarray, data_sample: SegDataSample,
                     draw_gt: bool, draw_pred: bool,
                     with_labels: bool) -> Optional[np.ndarray]:
        """``GT | prediction`` (either alone when the other is missing)."""
        classes = self.dataset_meta.get('classes', None)
        palette = self.dataset_meta.get('palette', None)
        if classes is None:
            raise ValueError('RISVisualizer needs dataset_meta classes '
                             '(the runner sets them from the dataset)')
        panels: List[np.ndarray] = []
        sources: Dict[str, Optional[PixelData]] = dict(
            gt=pick_gt(data_sample) if draw_gt else None,
            pred=data_sample.get('pred_sem_seg') if draw_pred else None)
        for sem_seg in sources.values():
            if sem_seg is not None:
                sem_seg = resize_sem_seg(sem_seg, image.shape[:2])
                panels.append(
                    self._draw_sem_seg(image, sem_seg, classes, palette,
                                       with_labels))
        return np.concatenate(panels, axis=1) if panels else None

    def add_sentence(self, drawn: np.ndarray,
                     data_sample: Optional[SegDataSample],
                     panel_size: Sequence[int]) -> np.ndarray:
        """``drawn`` with the caption band of the sample's sentence below
        (unchanged without a sentence or with ``with_sentence=False``)."""
        sentence = None
        if data_sample is not None:
            sentence = data_sample.metainfo.get('sentence')
        if not self.with_sentence or not sentence:
            return drawn
        band = caption_band(
            str(sentence), drawn.shape[1], panel_size, self.text_color)
        return np.concatenate((drawn, band), axis=0)

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[SegDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw ``GT | prediction`` and the sentence; show or save it.

        Args:
            name (str): The picture name (the sentence id is appended for
                the storage backends).
            image (np.ndarray): RGB image (what the hook reads).
            data_sample (SegDataSample, optional): With ``gt_sem_seg`` (or
                ``ori_gt_sem_seg``), ``pred_sem_seg`` and the ``sentence``
                metainfo.
            draw_gt (bool): Draw the ground truth. Defaults to True.
            draw_pred (bool): Draw the prediction. Defaults to True.
            show (bool): Show in a window instead of storing.
            wait_time (float): Seconds to show. Defaults to 0.
            out_file (str, optional): Write the picture (BGR) there instead
                of the storage backends.
            step (int): Global step recorded by the backends.
            with_labels (bool): Write class names on the masks.
        """
        drawn = None
        if data_sample is not None:
            drawn = self._draw_panels(image, data_sample, draw_gt, draw_pred,
                                      bool(with_labels))
        if drawn is None:
            drawn = np.ascontiguousarray(image, dtype=np.uint8)
        drawn = self.add_sentence(drawn, data_sample, image.shape[:2])
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(unique_name(name, data_sample), drawn, step)
