"""Referring segmentation of your own images: image + sentence(s) -> masks.

:class:`RISInferencer` follows mmengine's ``BaseInferencer`` (``preprocess``
-> ``forward`` -> ``visualize`` -> ``postprocess``) but takes two inputs,
the images and their sentences::

    inferencer = RISInferencer('configs/....py', weights='epoch_N.pth')
    result = inferencer('demo.jpg', ['the red circle', 'the blue square'])
    result['predictions'][0]['mask']      # HxW uint8 at the image's size
    result['visualization'][0]            # BGR overlay of both masks

Pipeline: the config's test pipeline without its loading transforms (no
ground truth is read); the image is loaded here (from a path or an array)
and goes through the image transforms (``Resize``) once, then each sentence
through the text transforms (``BertTokenize``, ``PackRISInputs``).

Masks: the raw stride-4 logits of the network are upsampled bilinearly
with ``align_corners=True`` straight to the original image size and the
mask is their argmax (or the model's ``test_cfg.mask_threshold``), as
``test_cfg=dict(output_size='original')`` does.
The upsampling works on the logit difference (foreground - background, the
same argmax and softmax) in bands of rows, so an 8000x6000 image never
needs a full-size float map.
"""
import copy
import json
import os
import os.path as osp
import warnings
from pathlib import Path
from typing import (Callable, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import mmcv
import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.infer import BaseInferencer
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from pycocotools import mask as mask_utils
from torch import Tensor

from mmris.engine.hooks import checked_state_dict
from mmris.registry import INFERENCERS, MODELS
from mmris.utils.compat import load_local_checkpoint
from mmris.utils.config_paths import apply_config_paths

ImageType = Union[str, Path, np.ndarray]
TextType = Union[str, Sequence[str]]
ImagesType = Union[ImageType, Sequence[ImageType]]
TextsType = Union[TextType, Sequence[TextType]]

# Transforms that read files or ground truth; the inferencer loads the
# image itself and has no mask.
LOADING_TYPES = ('LoadRefImage', 'LoadRefMask', 'LoadImageFromFile',
                 'LoadImageFromNDArray', 'LoadAnnotations')
# The first transform of the per-sentence part of the pipeline.
TEXT_START_TYPES = ('BertTokenize', )
# Output rows upsampled at once: bounds the float memory of a band to
# about ``ROW_BAND_ELEMS`` values whatever the image size.
ROW_BAND_ELEMS = 1 << 22


def _base_type(transform: dict) -> str:
    """``'mmris.BertTokenize'`` -> ``'BertTokenize'``."""
    return str(transform.get('type', '')).split('.')[-1]


def find_test_pipeline(cfg: Config) -> list:
    """The test pipeline of a config: ``test_pipeline`` or the one of the
    (first) test dataset."""
    if cfg.get('test_pipeline', None):
        return copy.deepcopy(list(cfg.test_pipeline))
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    while 'pipeline' not in dataset and dataset.get('datasets'):
        dataset = dataset['datasets'][0]
    if 'pipeline' in dataset:
        return copy.deepcopy(list(dataset['pipeline']))
    raise ValueError('the config has no test pipeline (`test_pipeline` or '
                     '`test_dataloader.dataset.pipeline`); the inferencer '
                     'needs its Resize and BertTokenize')


def split_test_pipeline(pipeline: Sequence[dict]) -> Tuple[list, list]:
    """Drop the loading transforms and split at the tokenizer.

    Returns:
        tuple[list, list]: The image transforms (run once per image) and
        the text transforms (run once per sentence).
    """
    kept = [
        copy.deepcopy(t) for t in pipeline
        if _base_type(t) not in LOADING_TYPES
    ]
    starts = [
        i for i, t in enumerate(kept) if _base_type(t) in TEXT_START_TYPES
    ]
    if not starts:
        raise ValueError('the test pipeline has no BertTokenize; the '
                         'sentence cannot be tokenized')
    for t in kept:
        if _base_type(t) == 'PackRISInputs':
            t['keep_ori_mask'] = False  # no ground truth at inference
    return kept[:starts[0]], kept[starts[0]:]


def to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Any array image -> uint8 ``HxWx3`` BGR.

    Grayscale (``HxW`` or ``HxWx1``) is repeated, a 4th (alpha) channel is
    dropped; integer and bool arrays are clipped to 0..255. Float arrays
    are refused: their range (0..1 or 0..255) is ambiguous.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            raise TypeError('float images are ambiguous (0..1 or 0..255); '
                            'pass uint8 BGR as mmcv.imread returns')
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[..., :3])
    raise ValueError(f'cannot use an image of shape {image.shape}; expected '
                     'HxW, HxWx1, HxWx3 (BGR) or HxWx4 (BGRA)')


def load_image(image: ImageType) -> np.ndarray:
    """uint8 ``HxWx3`` BGR from a file path or an array.

    Files are decoded with pillow and turned upright by their EXIF
    orientation (what an image viewer shows); grayscale, palette and RGBA
    files become 3-channel.
    """
    if isinstance(image, (str, Path)):
        path = str(image)
        if osp.isdir(path):
            raise ValueError(f'"{path}" is a folder; pass its image files '
                             '(demo/image_demo.py has a folder mode)')
        if not osp.isfile(path):
            raise FileNotFoundError(f'image "{path}" does not exist')
        try:
            array = mmcv.imread(path, flag='color', backend='pillow')
        except Exception as err:  # pillow raises many kinds
            raise OSError(f'cannot decode image "{path}": '
                          f'{type(err).__name__}: {err}') from err
        return to_bgr_uint8(array)
    if isinstance(image, np.ndarray):
        return to_bgr_uint8(image)
    raise TypeError('an image must be a file path or a numpy array, got '
                    f'{type(image).__name__}')


def check_sentences(sentences: TextType, where: str) -> List[str]:
    """A list of non-empty sentences; ``where`` names them in errors."""
    if isinstance(sentences, str):
        sentences = [sentences]
    sentences = list(sentences)
    if not sentences:
        raise ValueError(f'no sentence given for {where}')
    for j, sentence in enumerate(sentences):
        if not isinstance(sentence, str):
            raise TypeError(f'sentence {j} of {where} must be a str, got '
                            f'{type(sentence).__name__}')
        if not sentence.strip():
            raise ValueError(f'sentence {j} of {where} is empty or only '
                             f'whitespace ({sentence!r}); every sentence '
                             'must name the object to segment')
    return sentences


def _describe(image: ImageType, index: int) -> str:
    """'image 3' or 'image 3 (path)' for error messages."""
    if isinstance(image, (str, Path)):
        return f'image {index} ({image})'
    return f'image {index}'


def _is_single_image(images) -> bool:
    return isinstance(images, (str, Path, np.ndarray))


def pair_inputs(images: ImagesType,
                texts: TextsType) -> List[Tuple[ImageType, List[str]]]:
    """Group the sentences by image.

    * one image and a str or a list of str: all sentences on that image;
    * a list of images and one str: that sentence on every image;
    * a list of images and a list of the same length: ``texts[i]`` (a str
      or a list of str) on ``images[i]``; a single image in a list takes
      a flat list of sentences as its own.
    """
    if _is_single_image(images):
        return [(images, check_sentences(texts, _describe(images, 0)))]
    images = list(images)
    if not images:
        raise ValueError('no image given')
    if isinstance(texts, str):
        texts = [texts] * len(images)
    texts = list(texts)
    if len(images) == 1 and all(isinstance(t, str) for t in texts):
        texts = [texts]
    if len(texts) != len(images):
        raise ValueError(f'{len(images)} images but {len(texts)} entries in '
                         'texts; give one str or list of str per image')
    return [(image, check_sentences(text, _describe(image, i)))
            for i, (image, text) in enumerate(zip(images, texts))]


def image_name(image: ImageType, index: int) -> str:
    """File stem of a path, ``image_<index>`` for an array."""
    if isinstance(image, (str, Path)):
        return osp.splitext(osp.basename(str(image)))[0]
    return f'image_{index}'


def interp_matrix(out_len: int,
                  in_len: int,
                  start: int,
                  stop: int,
                  device=None) -> Tensor:
    """Rows ``start:stop`` of the ``[out_len, in_len]`` matrix of 1-D
    linear interpolation with ``align_corners=True`` (as ``F.interpolate``).
    """
    dst = torch.arange(start, stop, dtype=torch.float64, device=device)
    scale = (in_len - 1) / (out_len - 1) if out_len > 1 else 0.0
    src = dst * scale
    low = src.floor().long().clamp(0, in_len - 1)
    high = (low + 1).clamp(max=in_len - 1)
    frac = (src - low.double()).float()
    mat = torch.zeros(stop - start, in_len, device=device)
    rows = torch.arange(stop - start, device=device)
    mat.index_put_((rows, low), 1 - frac, accumulate=True)
    mat.index_put_((rows, high), frac, accumulate=True)
    return mat


def upsample_to_mask(
        diff: Tensor,
        size: Sequence[int],
        band_elems: int = ROW_BAND_ELEMS,
        margin: float = 0.0) -> Tuple[np.ndarray, float]:
    """Mask and score of a logit difference at the original size.

    Args:
        diff (Tensor): ``[h, w]`` foreground minus background logits.
        size (Sequence[int]): Output ``(H, W)``.
        band_elems (int): Float values computed at once (rows x W).
        margin (float): The mask is where the upsampled difference exceeds
            it; 0 is the argmax (``referent_margin`` of the model's
            ``test_cfg.mask_threshold``). Default: 0.

    Returns:
        tuple: ``mask`` (uint8 ``HxW``, 1 where the upsampled difference
        exceeds ``margin``: with 0 the argmax, ties to the background) and
        ``score``
        (mean foreground probability over the mask, 0.0 when it is empty).
    """
    height, width = int(size[0]), int(size[1])
    diff = diff.float()
    cols = interp_matrix(width, diff.shape[1], 0, width, diff.device)
    horizontal = diff @ cols.T  # [h, W]
    mask = np.empty((height, width), dtype=np.uint8)
    band = max(1, band_elems // max(width, 1))
    prob_sum, count = 0.0, 0
    for start in range(0, height, band):
        stop = min(height, start + band)
        rows = interp_matrix(height, diff.shape[0], start, stop, diff.device)
        values = rows @ horizontal
        fg = values > margin
        mask[start:stop] = fg.cpu().numpy()
        prob_sum += float(torch.sigmoid(values[fg]).double().sum())
        count += int(fg.sum())
    return mask, (prob_sum / count if count else 0.0)


def crop_to_image(logits: Tensor, input_size: Sequence[int],
                  img_shape: Sequence[int]) -> Tensor:
    """Drop the logits that cover the batch padding (none without it)."""
    if tuple(img_shape[:2]) == tuple(input_size[:2]):
        return logits
    rows = round(img_shape[0] * logits.shape[-2] / input_size[0])
    cols = round(img_shape[1] * logits.shape[-1] / input_size[1])
    return logits[..., :rows, :cols]


def mask_to_rle(mask: np.ndarray) -> dict:
    """COCO RLE of a binary mask with ``counts`` as a utf-8 str."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(
        size=[int(s) for s in rle['size']],
        counts=rle['counts'].decode('utf-8'))


@INFERENCERS.register_module()
class RISInferencer(BaseInferencer):
    """Segment the object each sentence refers to in your images.

    Args:
        model (str | Config | dict): Config file or loaded config (with a
            ``model`` and a test pipeline that has ``BertTokenize``).
        weights (str, optional): Checkpoint. Without it the weights are
            random and the masks meaningless (a warning says so).
        device (str, optional): ``'cuda'`` when available, else ``'cpu'``.
        scope (str): Registry scope. Defaults to 'mmris'.
        show_progress (bool): Kept for the ``BaseInferencer`` interface
            (images are processed one by one). Defaults to False.

    Call ``inferencer(images, texts, batch_size=1, alpha=0.5, ...)``; see
    :meth:`__call__`.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = {'draw', 'alpha', 'with_text'}
    postprocess_kwargs: set = {'out_dir'}

    def __init__(self,
                 model: Union[str, Config, dict],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 scope: str = 'mmris',
                 show_progress: bool = False) -> None:
        from mmris.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        init_default_scope(scope)
        cfg = self._load_config(model)
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.has_weights = weights is not None
        super().__init__(cfg, weights, device, scope, show_progress)

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    @staticmethod
    def _load_config(model: Union[str, Config, dict]) -> Config:
        """Read the config and apply its top-level paths (``bert_path``)."""
        if isinstance(model, (str, Path)):
            if not osp.isfile(str(model)):
                raise FileNotFoundError(f'config "{model}" does not exist')
            cfg = Config.fromfile(str(model))
        elif isinstance(model, Config):
            cfg = copy.deepcopy(model)
        elif isinstance(model, dict):
            cfg = Config(copy.deepcopy(dict(model)))
        else:
            raise TypeError('model must be a config path or a Config, got '
                            f'{type(model).__name__}')
        apply_config_paths(cfg)
        return cfg

    def _init_model(self,
                    cfg: Config,
                    weights: Optional[str],
                    device: str = 'cpu') -> torch.nn.Module:
        """Build the model (no pretrained loading) and load ``weights``."""
        model = MODELS.build(cfg.model)
        if weights is not None:
            if not osp.isfile(weights):
                raise FileNotFoundError(f'checkpoint "{weights}" does not '
                                        'exist')
            # mmengine's load_checkpoint is not strict: a checkpoint of
            # another architecture would give meaningless masks silently.
            state = checked_state_dict(
                model,
                load_local_checkpoint(weights, map_location='cpu'),
                source=f'checkpoint "{weights}"')
            model.load_state_dict(state, strict=False)
        else:
            warnings.warn('RISInferencer: no checkpoint given; the weights '
                          'are random and the masks are meaningless.')
        model.cfg = cfg
        return model.to(device).eval()

    def _init_pipeline(self, cfg: Config) -> Compose:
        """The test pipeline without loading, for one (image, sentence).

        Also sets ``image_pipeline`` and ``text_pipeline``, its two parts.
        """
        image_part, text_part = split_test_pipeline(find_test_pipeline(cfg))
        self.image_pipeline = Compose(image_part)
        self.text_pipeline = Compose(text_part)
        return Compose(image_part + text_part)

    def _init_collate(self, cfg: Config) -> Callable:
        """mmengine's ``pseudo_collate`` (what RIS data loaders use)."""
        return pseudo_collate

    def _init_visualizer(self, cfg: Config) -> None:
        """Drawing is done by :func:`mmris.visualization.draw_ris_result`."""
        return None

    # ------------------------------------------------------------------
    # the four stages
    # ------------------------------------------------------------------
    def __call__(self,
                 images: ImagesType,
                 texts: TextsType,
                 return_datasamples: bool = False,
                 batch_size: int = 1,
                 **kwargs) -> dict:
        """Segment what each sentence refers to.

        Args:
            images: A path or a uint8 array (BGR, as ``mmcv.imread``; gray
                and BGRA are converted), or a list of them.
            texts: For one image, a sentence or a list of sentences (one
                mask each); for a list of images, one entry (str or list of
                str) per image, or one str for all.
            return_datasamples (bool): Return ``SegDataSample``s (with
                ``pred_sem_seg`` at the original size and ``score``,
                ``sentence`` in the metainfo) instead of dicts.
            batch_size (int): Sentences of one image run together.
            **kwargs: ``draw`` (default True), ``alpha`` (0.5),
                ``with_text`` (True) for the drawing; ``out_dir`` to save
                ``vis/<name>.png``, ``masks/<name>_<j>.png`` (0/255) and
                ``predictions.json`` (COCO RLE).

        Returns:
            dict: ``predictions``, one per (image, sentence) in input order:
            dicts with ``mask`` (uint8 HxW, 1 = referent), ``score``,
            ``sentence``, ``image_index``, ``sentence_index``, ``image``
            (name); ``visualization``: one BGR overlay per image, all its
            sentences in distinct colours (empty with ``draw=False``).
        """
        groups = pair_inputs(images, texts)
        (preprocess_kwargs, forward_kwargs, visualize_kwargs,
         postprocess_kwargs) = self._dispatch_kwargs(**kwargs)
        names = self._unique_names(groups)
        preds, visualization = [], []
        for index, (image, sentences) in enumerate(groups):
            ori = load_image(image)  # one copy of the image at a time
            item = dict(
                img=ori,
                sentences=sentences,
                image_index=index,
                name=names[index],
                img_path=str(image) if isinstance(image,
                                                  (str, Path)) else None)
            image_preds = []
            for batch in self.preprocess([item], batch_size,
                                         **preprocess_kwargs):
                image_preds.extend(self.forward(batch, **forward_kwargs))
            for pred in image_preds:
                pred.update(image_index=index, image=names[index])
            visualization.extend(
                self.visualize([ori], image_preds, **visualize_kwargs))
            preds.extend(image_preds)
            del ori
        return self.postprocess(preds, visualization, return_datasamples,
                                **postprocess_kwargs)

    @staticmethod
    def _unique_names(groups: list) -> List[str]:
        """Image names for the saved files, made unique by their index."""
        names = [image_name(image, i) for i, (image, _) in enumerate(groups)]
        seen: Dict[str, int] = {}
        for name in names:
            seen[name] = seen.get(name, 0) + 1
        return [
            f'{name}_{i}' if seen[name] > 1 else name
            for i, name in enumerate(names)
        ]

    def preprocess(self,
                   inputs: list,
                   batch_size: int = 1,
                   **kwargs) -> Iterator[dict]:
        """Run the image transforms once per image and the text transforms
        once per sentence; yield collated batches of ``batch_size``."""

        def samples():
            for item in inputs:
                ori = item['img']
                base = dict(
                    img=ori, img_shape=ori.shape[:2], ori_shape=ori.shape[:2])
                if item.get('img_path'):
                    base['img_path'] = item['img_path']
                base = self.image_pipeline(base)
                for j, sentence in enumerate(item['sentences']):
                    packed = self.text_pipeline(dict(base, sentence=sentence))
                    packed['data_samples'].set_metainfo(dict(sentence_index=j))
                    yield packed

        for chunk in self._get_chunk_data(samples(), batch_size):
            yield self.collate_fn(chunk)

    @torch.no_grad()
    def forward(self, inputs: dict, **kwargs) -> List[dict]:
        """Masks at the original image size for one batch."""
        data = self.model.data_preprocessor(inputs, False)
        batch, samples = data['inputs'], data['data_samples']
        logits = self.model(batch, samples, mode='tensor')
        preds = []
        for i, sample in enumerate(samples):
            meta = sample.metainfo
            sample_logits = crop_to_image(
                logits[i], batch.shape[-2:],
                meta.get('img_shape', batch.shape[-2:]))
            mask, score = upsample_to_mask(
                sample_logits[1] - sample_logits[0],
                meta['ori_shape'][:2],
                margin=getattr(self.model, 'mask_margin', 0.0))
            preds.append(
                dict(
                    mask=mask,
                    score=score,
                    sentence=meta['sentence'],
                    sentence_index=meta['sentence_index']))
        return preds

    def visualize(self,
                  inputs: list,
                  preds: List[dict],
                  draw: bool = True,
                  alpha: float = 0.5,
                  with_text: bool = True) -> List[np.ndarray]:
        """One overlay per image with all its masks and sentences."""
        from mmris.visualization import draw_ris_result
        if not draw:
            return []
        return [
            draw_ris_result(
                image, [p['mask']
                        for p in preds], [p['sentence'] for p in preds],
                alpha=alpha,
                with_text=with_text) for image in inputs
        ]

    def postprocess(self,
                    preds: List[dict],
                    visualization: List[np.ndarray],
                    return_datasample: bool = False,
                    out_dir: str = '') -> dict:
        """Save to ``out_dir`` when given; pack the result dict."""
        if out_dir:
            self.save_results(preds, visualization, out_dir)
        if return_datasample:
            preds = [self._to_datasample(p) for p in preds]
        return dict(predictions=preds, visualization=visualization)

    @staticmethod
    def _to_datasample(pred: dict) -> SegDataSample:
        meta = {k: v for k, v in pred.items() if k != 'mask'}
        meta['ori_shape'] = pred['mask'].shape
        sample = SegDataSample(metainfo=meta)
        sample.pred_sem_seg = PixelData(
            data=torch.from_numpy(pred['mask'][None].astype(np.int64)))
        return sample

    @staticmethod
    def save_results(preds: List[dict], visualization: List[np.ndarray],
                     out_dir: str) -> Dict[str, list]:
        """Write overlays, 0/255 mask PNGs and ``predictions.json``.

        Returns:
            dict: The written file paths under ``vis``, ``masks`` and
            ``json``.
        """
        written: Dict[str, list] = dict(vis=[], masks=[], json=[])
        names = sorted({(p['image_index'], p['image']) for p in preds})
        for (_, name), vis in zip(names, visualization):
            path = osp.join(out_dir, 'vis', f'{name}.png')
            mmcv.imwrite(vis, path)
            written['vis'].append(path)
        records = []
        for pred in preds:
            path = osp.join(out_dir, 'masks',
                            f'{pred["image"]}_{pred["sentence_index"]}.png')
            mmcv.imwrite(pred['mask'] * np.uint8(255), path)
            written['masks'].append(path)
            records.append(prediction_record(pred))
        json_path = osp.join(out_dir, 'predictions.json')
        os.makedirs(out_dir, exist_ok=True)
        with open(json_path, 'w', encoding='utf-8') as f:
            json.dump(records, f, indent=1)
        written['json'].append(json_path)
        return written


def prediction_record(pred: dict) -> dict:
    """The JSON-ready record of one prediction (mask as COCO RLE)."""
    return dict(
        image=pred['image'],
        image_index=pred['image_index'],
        sentence=pred['sentence'],
        sentence_index=pred['sentence_index'],
        score=round(float(pred['score']), 6),
        size=[int(s) for s in pred['mask'].shape],
        segmentation=mask_to_rle(pred['mask']))
