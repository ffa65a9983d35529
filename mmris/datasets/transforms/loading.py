"""Load a RefCOCO image and the mask of its referred object."""
import os.path as osp
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmengine.logging import print_log
from PIL import Image

from mmris.registry import TRANSFORMS
from ..refer import decode_segmentation, valid_polygons
from .cache import LRUCache

# Python-side cost of one cached mask (key tuple, shape, bbox, array
# header, LRU links), counted against ``cache_mb`` on top of the packed
# bits: ~650 bytes measured with tracemalloc, rounded up.
_MASK_ENTRY_OVERHEAD = 700


def _where(results: dict) -> str:
    """'ref_id=.. sent_id=..' of a sample, for error messages."""
    keys = ('dataset_name', 'split', 'ref_id', 'ann_id', 'sent_id')
    return ' '.join(f'{k}={results[k]}' for k in keys if k in results)


def _load_16bit_png(path: str) -> Optional[np.ndarray]:
    """A 16-bit PNG as BGR uint8 (top 8 bits), or None for other files."""
    with Image.open(path) as img:
        if not img.mode.startswith('I'):
            return None
        pixels = np.asarray(img, dtype=np.uint32)
    if pixels.ndim == 3:  # pillow gives one channel for 'I;16'; be safe
        pixels = pixels[..., 0]
    gray = (np.clip(pixels, 0, 65535) >> 8).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def _fill_image(results: dict, img: np.ndarray, to_float32: bool) -> dict:
    """Set the keys ``LoadImageFromFile`` sets."""
    results['img'] = img.astype(np.float32) if to_float32 else img
    results['img_shape'] = img.shape[:2]
    results['ori_shape'] = img.shape[:2]
    return results


@TRANSFORMS.register_module()
class LoadRefImage(LoadImageFromFile):
    """Decode a COCO JPEG the way the reference does, with clear errors.

    The reference opens images with PIL and ``convert('RGB')``, which
    ignores the EXIF orientation tag. COCO polygons are drawn on the stored
    pixels, so rotating by EXIF (mmcv's default ``color_type='color'``)
    would misalign image and mask; the defaults here are pillow decoding
    without EXIF rotation. The image is BGR uint8 as in every mmcv pipeline
    (``RISDataPreprocessor`` swaps it back to RGB).

    A missing file raises ``FileNotFoundError`` and an undecodable one
    (corrupt or truncated JPEG) raises ``OSError``; both name the file and
    the sample. With ``ignore_empty=True`` (opt-in) both log a warning
    naming the file and return None instead, and mmengine's dataset fetches
    another sample in training (``max_refetch`` times at most).

    Grayscale and RGBA files load as 3-channel uint8 (pillow's RGB
    conversion). 16-bit PNGs, which pillow would clip to 255, are scaled to
    8 bits (``value >> 8``) instead (see docs/robustness.md).

    Args:
        imdecode_backend (str): Defaults to 'pillow'.
        color_type (str): Defaults to 'color_ignore_orientation'.
        **kwargs: Other arguments of :class:`mmcv.transforms.
            LoadImageFromFile` (``backend_args``, ``to_float32``, ...).
    """

    def __init__(self,
                 imdecode_backend: str = 'pillow',
                 color_type: str = 'color_ignore_orientation',
                 **kwargs) -> None:
        super().__init__(
            imdecode_backend=imdecode_backend, color_type=color_type, **kwargs)

    @staticmethod
    def _skip(results: dict, problem: str) -> None:
        """Log why a sample is dropped (``ignore_empty=True``); None."""
        print_log(
            f'LoadRefImage: image {results["img_path"]} ({_where(results)}) '
            f'{problem}; sample skipped (ignore_empty=True).',
            logger='current',
            level=30)
        return None

    def transform(self, results: dict) -> Optional[dict]:
        """Add ``img``, ``img_shape`` and ``ori_shape``."""
        path = results['img_path']
        local = self.backend_args is None and self.file_client_args is None
        if local and not osp.isfile(path):
            if self.ignore_empty:  # the caller asked to drop such samples
                return self._skip(results, 'does not exist')
            raise FileNotFoundError(
                f'image {path} does not exist ({_where(results)}); put the '
                'COCO train2014 JPEGs under DATA_PATH/train2014 (check with '
                'tools/misc/check_dataset.py).')
        try:
            if local and path.lower().endswith('.png'):
                high_depth = _load_16bit_png(path)
                if high_depth is not None:
                    return _fill_image(results, high_depth, self.to_float32)
            loaded = super().transform(results)
            if loaded is None:  # mmcv's ignore_empty on an unreadable file
                return self._skip(results, 'cannot be decoded')
            return loaded
        except FileNotFoundError:
            raise
        except Exception as err:
            if self.ignore_empty:
                return self._skip(results, 'cannot be decoded')
            raise OSError(
                f'cannot decode image {path} ({_where(results)}): '
                f'{type(err).__name__}: {err}. The file is corrupt or '
                'truncated; download it again (tools/misc/check_dataset.py '
                '--verify-images finds all such files).') from err


def pack_mask(mask: np.ndarray) -> tuple:
    """A {0, 1} mask as (shape, bounding box, bits of the box), ~80x smaller.

    Referred objects cover a part of the image, and one bit per pixel of
    their box is all that is needed to rebuild the exact array.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return mask.shape, None, np.zeros(0, dtype=np.uint8)
    cols = np.flatnonzero(mask.any(axis=0))
    box = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
    crop = mask[box[0]:box[1], box[2]:box[3]]
    return mask.shape, box, np.packbits(crop)


def unpack_mask(packed: tuple) -> np.ndarray:
    """The uint8 mask of :func:`pack_mask` (a new, writable array)."""
    shape, box, bits = packed
    mask = np.zeros(shape, dtype=np.uint8)
    if box is not None:
        top, bottom, left, right = box
        size = (bottom - top, right - left)
        mask[top:bottom, left:right] = np.unpackbits(
            bits, count=size[0] * size[1]).reshape(size)
    return mask


@TRANSFORMS.register_module()
class LoadRefMask(BaseTransform):
    """Rasterise the referred object's COCO segmentation (lazy decoding).

    Polygons are merged into one mask (all parts of the object), RLE is
    decoded; the result is uint8 {0, 1} at the recorded image size.

    Required keys: ``segmentation``, ``ori_height``, ``ori_width``; the
    image's ``ori_shape`` when present (put this transform right after the
    image loading).

    Added keys: ``gt_seg_map`` (uint8 ``[H, W]``), ``ori_gt_seg_map`` (the
    same array, kept for the original-size evaluation after ``Resize``
    replaces ``gt_seg_map``), and ``'gt_seg_map'`` in ``seg_fields``.

    A polygon segmentation without any polygon of >= 3 points (an empty or
    degenerate annotation) gives, by default, an all-background mask and a
    warning naming the sample (logged once per ref); the loss of such a
    sample is the plain background cross-entropy, finite and defined.

    Caching (opt-in, ``cache_mb > 0``): the rasterised mask of each
    annotation is kept, keyed by ``(ann_id, img_path, height, width)``, so
    that the next epoch skips the polygon rasterisation (~0.4-1 ms of a
    640x480 sample; the cached copy is rebuilt in ~0.01 ms). A mask is
    stored as its bounding box at one bit per pixel (~4 KB on average over
    the 32 objects of ``data/refer_sample``, instead of ~310 KB), in a
    least-recently-used cache of at most ``cache_mb`` MiB per process: each
    data-loader worker has its own (see
    :mod:`mmris.datasets.transforms.cache`), so ``num_workers`` workers use
    up to ``num_workers * cache_mb``. The whole RefCOCO train split (42k
    objects) would take ~200 MiB per worker. The output is the same
    array as without the cache (tested); samples without ``ann_id`` are
    not cached.

    Args:
        empty_polygon (str): 'zeros' (default: all-background mask and a
            warning) or 'error' (raise ``ValueError``).
        cache_mb (float): Size of the per-process mask cache in MiB; 0
            (default) disables it.

    Raises:
        ValueError: the decoded image does not have the size recorded in
            ``instances.json`` (a wrong or re-encoded file would give a
            misaligned mask), or the segmentation is unusable.
    """

    def __init__(self,
                 empty_polygon: str = 'zeros',
                 cache_mb: float = 0) -> None:
        if empty_polygon not in ('zeros', 'error'):
            raise ValueError('empty_polygon must be "zeros" or "error", '
                             f'got "{empty_polygon}"')
        if cache_mb < 0:
            raise ValueError(f'cache_mb must be >= 0, got {cache_mb}')
        self.empty_polygon = empty_polygon
        self.cache_mb = cache_mb
        self._warned_refs = set()
        # the byte bound is the real limit; the entry bound only has to
        # be positive for the cache to be on
        max_bytes = int(cache_mb * 2**20)
        self.cache = LRUCache(
            max_items=2**62 if max_bytes else 0, max_bytes=max_bytes)

    def _empty_mask(self, results: dict, height: int, width: int,
                    err: ValueError) -> np.ndarray:
        """The all-background mask of an empty polygon list (or raise)."""
        if self.empty_polygon == 'error':
            raise ValueError(f'cannot rasterise the mask of '
                             f'{_where(results)}: {err}') from err
        key = results.get('ref_id', results.get('img_path'))
        if key not in self._warned_refs:
            self._warned_refs.add(key)
            print_log(
                f'LoadRefMask: {_where(results) or results.get("img_path")} '
                f'has no usable polygon ({err}); using an empty '
                '(all-background) mask.',
                logger='current',
                level=30)
        return np.zeros((height, width), dtype=np.uint8)

    def transform(self, results: dict) -> dict:
        height, width = results['ori_height'], results['ori_width']
        shape = results.get('ori_shape')
        if shape is not None and tuple(shape[:2]) != (height, width):
            raise ValueError(
                f'image {results.get("img_path")} is '
                f'{shape[0]}x{shape[1]} (HxW) but its annotation says '
                f'{height}x{width} ({_where(results)}); the file is not the '
                'COCO train2014 original. Replace it.')
        mask = self._cached_mask(results, height, width)
        results['gt_seg_map'] = mask
        results['ori_gt_seg_map'] = mask
        fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in fields:
            fields.append('gt_seg_map')
        return results

    def _cached_mask(self, results: dict, height: int,
                     width: int) -> np.ndarray:
        """The mask from the cache, or rasterised (and cached if enabled)."""
        ann_id = results.get('ann_id')
        if not self.cache.enabled or ann_id is None:
            return self._rasterise(results, height, width)
        key = (ann_id, results.get('img_path'), height, width)
        packed = self.cache.get(key)
        if packed is not None:
            return unpack_mask(packed)
        mask = self._rasterise(results, height, width)
        packed = pack_mask(mask)
        self.cache.put(key, packed, packed[2].nbytes + _MASK_ENTRY_OVERHEAD)
        return mask

    def _rasterise(self, results: dict, height: int, width: int) -> np.ndarray:
        """Decode the COCO segmentation (the uncached path)."""
        segmentation = results['segmentation']
        try:
            return decode_segmentation(segmentation, height, width)
        except ValueError as err:
            if isinstance(segmentation, list) and \
                    not valid_polygons(segmentation):
                return self._empty_mask(results, height, width, err)
            raise ValueError(f'cannot rasterise the mask of '
                             f'{_where(results)}: {err}') from err

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'empty_polygon={self.empty_polygon!r}, '
                f'cache_mb={self.cache_mb})')
