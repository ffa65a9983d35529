"""A small reader for the REFER annotation files (RefCOCO family).

The REFER release (Licheng Yu et al.) stores, per dataset folder,
``refs(<split_by>).p`` (a pickled list of "refs": one referred object with
its sentences and split) and ``instances.json`` (COCO-style images and
annotations, polygons or RLE). This module reads them without the original
``refer.py`` API and keeps only what a RIS data loader needs.

Layout (the seed's ``DATA_PATH``)::

    DATA_PATH/
        train2014/COCO_train2014_000000xxxxxx.jpg
        refer/refcoco/{instances.json, refs(unc).p, refs(google).p}
        refer/refcoco+/{instances.json, refs(unc).p}
        refer/refcocog/{instances.json, refs(umd).p, refs(google).p}
        refer/refcocom/{instances.json, refs(mix).p}   (or DATA_PATH/refcocom)
        refer/shapes/{instances.json, refs(unc).p}     (synthetic, see
                                                        docs/demo_data.md)
"""
import gc
import json
import os.path as osp
import pickle
from contextlib import contextmanager
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

# The (dataset, split_by) pairs of the REFER release with their splits. The
# combined ``refcocom`` pack (CARIS/MaskRIS ``--mix``) is not documented, so
# its splits are read from the file instead.
REFER_SPLITS: Dict[Tuple[str, str], Tuple[str, ...]] = {
    ('refcoco', 'unc'): ('train', 'val', 'testA', 'testB'),
    ('refcoco', 'google'): ('train', 'val', 'test'),
    ('refcoco+', 'unc'): ('train', 'val', 'testA', 'testB'),
    ('refcocog', 'umd'): ('train', 'val', 'test'),
    ('refcocog', 'google'): ('train', 'val'),
    ('refcocom', 'mix'): (),
    # The synthetic shapes set of mmris.datasets.synthetic (docs/demo_data.md)
    ('shapes', 'unc'): ('train', 'val', 'testA', 'testB', 'testOcc'),
}
DATASETS = ('refcoco', 'refcoco+', 'refcocog', 'refcocom', 'shapes')
DEFAULT_SPLIT_BY = {
    'refcoco': 'unc',
    'refcoco+': 'unc',
    'refcocog': 'umd',
    'refcocom': 'mix',
    'shapes': 'unc'
}
# REFER also accepts 'test' for unc: every ref whose split contains 'test'.
SPLIT_ALIASES = {
    ('refcoco', 'unc'): ('test', ),
    ('refcoco+', 'unc'): ('test', )
}
REF_KEYS = ('ref_id', 'ann_id', 'image_id', 'split', 'sentences')


def check_dataset_args(dataset: str, split_by: Optional[str]) -> str:
    """Validate a dataset name and return its split_by (default filled in).

    A name outside :data:`DATASETS` is a user's own data set in the REFER
    layout (``refer/<dataset>/refs(<split_by>).p`` + ``instances.json``); it
    needs an explicit ``split_by`` and its splits are read from the file.

    Raises:
        ValueError: unknown dataset without ``split_by``, or a known dataset
            with a split_by it does not have, with the valid values in the
            message.
    """
    if dataset not in DATASETS:
        if split_by:
            return split_by
        raise ValueError(
            f'unknown dataset "{dataset}"; valid datasets: '
            f'{", ".join(DATASETS)}. For your own data set in the REFER '
            'layout, also give split_by (the <split_by> of its '
            'refs(<split_by>).p file).')
    if split_by is None:
        return DEFAULT_SPLIT_BY[dataset]
    valid = [sb for (ds, sb) in REFER_SPLITS if ds == dataset]
    if split_by not in valid:
        raise ValueError(f'unknown split_by "{split_by}" for {dataset}; '
                         f'valid: {", ".join(valid)}')
    return split_by


def valid_splits(dataset: str, split_by: str) -> Tuple[str, ...]:
    """The split names accepted for a (dataset, split_by) pair.

    Empty for ``refcocom`` and user data sets, whose splits are whatever
    their file holds.
    """
    return REFER_SPLITS.get((dataset, split_by), ()) + SPLIT_ALIASES.get(
        (dataset, split_by), ())


def split_matches(query: str, ref_split: str) -> bool:
    """REFER's split selection rule.

    'testA'/'testB'/'testC' select refs whose split string contains the
    letter (so a 'testAB' ref belongs to both), 'test' selects every split
    containing 'test', anything else needs an exact match.
    """
    if query in ('testA', 'testB', 'testC'):
        return query[-1] in ref_split
    if query == 'test':
        return 'test' in ref_split
    return query == ref_split


def locate_refer_files(data_root: str, ann_root: str, dataset: str,
                       split_by: str) -> Tuple[str, str]:
    """Return the paths of ``refs(<split_by>).p`` and ``instances.json``.

    ``refcocom`` is looked for in ``<ann_root>/refcocom`` (where the
    reference code reads it) and then in ``<data_root>/refcocom`` (where its
    README puts it).

    Raises:
        FileNotFoundError: naming every place that was searched and the fix.
    """
    folders = [osp.join(data_root, ann_root, dataset)]
    if dataset == 'refcocom':
        folders.append(osp.join(data_root, 'refcocom'))
    names = (f'refs({split_by}).p', 'instances.json')
    for folder in folders:
        paths = [osp.join(folder, name) for name in names]
        if all(osp.isfile(p) for p in paths):
            return paths[0], paths[1]
    missing = [
        osp.join(folder, name) for folder in folders for name in names
        if not osp.isfile(osp.join(folder, name))
    ]
    hint = ('download the REFER annotations (refcoco.zip, refcoco+.zip, '
            'refcocog.zip) and unzip them into '
            f'{osp.join(data_root, ann_root)}')
    if dataset == 'refcocom':
        hint = ('put the CARIS combined annotations (refs(mix).p and '
                f'instances.json) into {folders[0]} or {folders[1]}')
    raise FileNotFoundError(
        f'{dataset} ({split_by}) annotations not found; missing: '
        f'{", ".join(missing)}. Fix: {hint} (see docs/dataset_prepare.md, '
        'or run tools/misc/check_dataset.py).')


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a big file is decoded.

    Decoding RefCOCO's files creates millions of lists and dicts, which
    trigger repeated full collections that find nothing to free; pausing
    it makes ``json.load`` ~1.5x and ``pickle.load`` ~5x faster.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_refs(path: str) -> List[dict]:
    """Load a REFER ``refs(*).p`` pickle (written by Python 2 or 3)."""
    try:
        with open(path, 'rb') as f, gc_paused():
            try:
                refs = pickle.load(f)
            except UnicodeDecodeError:
                # Python-2 pickles with non-ASCII byte strings.
                f.seek(0)
                refs = pickle.load(f, encoding='latin1')
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, ImportError, IndexError) as err:
        raise ValueError(
            f'{path} is not a readable REFER refs pickle '
            f'({type(err).__name__}: {err}); the file is truncated or '
            'corrupt: download and unzip it again.') from err
    if not isinstance(refs, list) or (refs and not isinstance(refs[0], dict)):
        raise ValueError(f'{path} must hold a list of ref dicts, got '
                         f'{type(refs).__name__}')
    for index, ref in enumerate(refs):
        missing = [k for k in REF_KEYS if k not in ref]
        if missing or not isinstance(ref['sentences'], list):
            raise ValueError(
                f'{path}: ref #{index} (ref_id {ref.get("ref_id")}) lacks '
                f'the keys {missing} or its sentences are not a list; this '
                'is not a (complete) REFER refs file.')
    return refs


def load_instances(path: str) -> dict:
    """Load ``instances.json`` (COCO format) with a clear error."""
    try:
        with open(path, encoding='utf-8') as f, gc_paused():
            instances = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path} is not valid JSON ({err}); the file is '
                         'truncated or corrupt: download it again.') from err
    for key in ('images', 'annotations'):
        if not isinstance(instances, dict) or key not in instances:
            raise ValueError(f'{path} has no "{key}" list; this is not a '
                             'COCO-style instances file.')
    return instances


class ReferAnnotations:
    """The refs, annotations and images of one REFER (dataset, split_by).

    Only the annotations and images that some ref uses are kept (RefCOCO's
    ``instances.json`` lists every COCO object of its images, four times
    more than the referred ones).

    Args:
        refs_path (str): Path of ``refs(<split_by>).p``.
        instances_path (str): Path of ``instances.json``.
    """

    def __init__(self, refs_path: str, instances_path: str) -> None:
        self.refs_path = refs_path
        self.instances_path = instances_path
        self.refs = load_refs(refs_path)
        instances = load_instances(instances_path)
        wanted_anns = {ref['ann_id'] for ref in self.refs}
        self.anns = {
            ann['id']: ann
            for ann in instances['annotations'] if ann['id'] in wanted_anns
        }
        wanted_imgs = {ref['image_id'] for ref in self.refs}
        self.imgs = {
            img['id']: img
            for img in instances['images'] if img['id'] in wanted_imgs
        }
        categories = instances.get('categories', [])
        self.cats = {cat['id']: cat['name'] for cat in categories}

    @property
    def splits(self) -> List[str]:
        """The split names present in the refs file, sorted."""
        return sorted({ref['split'] for ref in self.refs})

    def select(self, split: str) -> List[dict]:
        """The refs of a split, in file order (REFER's selection rule)."""
        return [ref for ref in self.refs if split_matches(split, ref['split'])]

    def ann_of(self, ref: dict) -> dict:
        """The COCO annotation a ref points to.

        Raises:
            KeyError: naming the ref and the instances file.
        """
        try:
            return self.anns[ref['ann_id']]
        except KeyError:
            raise KeyError(
                f'ref {ref["ref_id"]} points to annotation {ref["ann_id"]}, '
                f'which {self.instances_path} does not contain; the refs '
                'and instances files do not belong together.') from None

    def img_of(self, ref: dict) -> dict:
        """The COCO image record of a ref.

        Raises:
            KeyError: naming the ref and the instances file.
        """
        try:
            return self.imgs[ref['image_id']]
        except KeyError:
            raise KeyError(
                f'ref {ref["ref_id"]} points to image {ref["image_id"]}, '
                f'which {self.instances_path} does not contain; the refs '
                'and instances files do not belong together.') from None


def sentence_text(sentence: dict, text_key: str) -> str:
    """The text of a REFER sentence record (``sent`` or ``raw``)."""
    text = sentence.get(text_key)
    if text is None:
        raise KeyError(f'sentence {sentence.get("sent_id")} has no '
                       f'"{text_key}" field (keys: {sorted(sentence)})')
    return text


def count_sentences(refs: Sequence[dict]) -> int:
    """Total number of sentences of some refs."""
    return sum(len(ref['sentences']) for ref in refs)


def valid_polygons(segmentation: list) -> List[list]:
    """The polygon parts with at least three points.

    pycocotools reads a first part of exactly four numbers as a box and
    cannot rasterise shorter ones, so such degenerate parts (zero area) are
    left out of the union.
    """
    return [
        list(poly) for poly in segmentation
        if len(poly) >= 6 and len(poly) % 2 == 0
    ]


def decode_segmentation(segmentation, height: int, width: int) -> np.ndarray:
    """Rasterise a COCO segmentation into a uint8 {0, 1} ``[H, W]`` mask.

    Polygons: every part becomes an RLE and the parts are merged (union),
    as REFER's ``getMask`` does. RLE: uncompressed (``counts`` a list) or
    compressed (``counts`` a string or bytes).

    Raises:
        ValueError: the segmentation has no usable part or the wrong type.
    """
    if isinstance(segmentation, list):
        polygons = valid_polygons(segmentation)
        if not polygons:
            raise ValueError('segmentation has no polygon with >= 3 points: '
                             f'{str(segmentation)[:80]}')
        rles = mask_utils.frPyObjects(polygons, height, width)
        rle = mask_utils.merge(rles)
    elif isinstance(segmentation, dict) and 'counts' in segmentation:
        if isinstance(segmentation['counts'], list):
            rle = mask_utils.frPyObjects(segmentation, height, width)
        else:
            rle = dict(segmentation)
            if isinstance(rle['counts'], str):
                rle['counts'] = rle['counts'].encode('ascii')
        if list(rle['size']) != [height, width]:
            raise ValueError(f'RLE size {rle["size"]} differs from the image '
                             f'size {[height, width]}')
    else:
        raise ValueError('segmentation must be a list of polygons or an RLE '
                         f'dict, got {type(segmentation).__name__}')
    mask = mask_utils.decode(rle)
    if mask.ndim == 3:  # pycocotools keeps a parts axis for some inputs
        mask = mask.max(axis=2)
    return np.ascontiguousarray(mask, dtype=np.uint8)
