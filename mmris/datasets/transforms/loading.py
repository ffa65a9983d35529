"""Load a RefCOCO image and the mask of its referred object."""
import os.path as osp
from typing import Optional

from mmcv.transforms import BaseTransform, LoadImageFromFile

from mmris.registry import TRANSFORMS
from ..refer import decode_segmentation


def _where(results: dict) -> str:
    """'ref_id=.. sent_id=..' of a sample, for error messages."""
    keys = ('dataset_name', 'split', 'ref_id', 'ann_id', 'sent_id')
    return ' '.join(f'{k}={results[k]}' for k in keys if k in results)


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
    the sample. With ``ignore_empty=True`` (opt-in) both return None
    instead, and mmengine's dataset fetches another sample in training.

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

    def transform(self, results: dict) -> Optional[dict]:
        """Add ``img``, ``img_shape`` and ``ori_shape``."""
        path = results['img_path']
        local = self.backend_args is None and self.file_client_args is None
        if local and not osp.isfile(path):
            if self.ignore_empty:  # the caller asked to drop such samples
                return None
            raise FileNotFoundError(
                f'image {path} does not exist ({_where(results)}); put the '
                'COCO train2014 JPEGs under DATA_PATH/train2014 (check with '
                'tools/misc/check_dataset.py).')
        try:
            return super().transform(results)
        except FileNotFoundError:
            raise
        except Exception as err:
            raise OSError(
                f'cannot decode image {path} ({_where(results)}): '
                f'{type(err).__name__}: {err}. The file is corrupt or '
                'truncated; download it again (tools/misc/check_dataset.py '
                '--verify-images finds all such files).') from err


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

    Raises:
        ValueError: the decoded image does not have the size recorded in
            ``instances.json`` (a wrong or re-encoded file would give a
            misaligned mask), or the segmentation is unusable.
    """

    def transform(self, results: dict) -> dict:
        height, width = results['ori_height'], results['ori_width']
        shape = results.get('ori_shape')
        if shape is not None and tuple(shape[:2]) != (height, width):
            raise ValueError(
                f'image {results.get("img_path")} is '
                f'{shape[0]}x{shape[1]} (HxW) but its annotation says '
                f'{height}x{width} ({_where(results)}); the file is not the '
                'COCO train2014 original. Replace it.')
        try:
            mask = decode_segmentation(results['segmentation'], height, width)
        except ValueError as err:
            raise ValueError(f'cannot rasterise the mask of '
                             f'{_where(results)}: {err}') from err
        results['gt_seg_map'] = mask
        results['ori_gt_seg_map'] = mask
        fields = results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in fields:
            fields.append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'
