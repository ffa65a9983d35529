"""Validate a RefCOCO-family ``DATA_PATH`` before a long run.

Used by ``tools/misc/check_dataset.py``; every problem is reported with the
exact path or id involved, so a layout can be fixed in one pass.
"""
import os.path as osp
from collections import Counter, OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from PIL import Image

from .refer import (REFER_SPLITS, ReferAnnotations, decode_segmentation,
                    locate_refer_files, sentence_text, valid_polygons)

# What a full download contains (refcocom is optional: checked when asked
# for or when its files are present).
DEFAULT_PAIRS: Tuple[Tuple[str, str],
                     ...] = (('refcoco', 'unc'), ('refcoco', 'google'),
                             ('refcoco+', 'unc'), ('refcocog', 'umd'),
                             ('refcocog', 'google'))
MAX_LISTED = 20


class Report:
    """Problems (errors and warnings) and per-split counts of a check."""

    def __init__(self) -> None:
        self.errors: List[str] = []
        self.warnings: List[str] = []
        self.counts: Dict[str, Dict[str, Tuple[int, int, int]]] = \
            OrderedDict()

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, msg: str) -> None:
        self.errors.append(msg)

    def warn(self, msg: str) -> None:
        self.warnings.append(msg)

    def listed(self, kind: str, header: str, items: Sequence[str]) -> None:
        """Add one problem listing up to MAX_LISTED items."""
        if not items:
            return
        shown = '\n    '.join(items[:MAX_LISTED])
        more = (f'\n    ... and {len(items) - MAX_LISTED} more'
                if len(items) > MAX_LISTED else '')
        getattr(self, kind)(f'{header} ({len(items)}):\n    {shown}{more}')


def pairs_for(datasets: Optional[Iterable[str]]) -> List[Tuple[str, str]]:
    """The (dataset, split_by) pairs of some dataset names."""
    if datasets is None:
        return list(DEFAULT_PAIRS)
    pairs = []
    for name in datasets:
        found = [pair for pair in REFER_SPLITS if pair[0] == name]
        if not found:
            valid = sorted({ds for ds, _ in REFER_SPLITS})
            raise ValueError(f'unknown dataset "{name}"; valid: '
                             f'{", ".join(valid)}')
        pairs.extend(found)
    return pairs


def _check_refs(refer: ReferAnnotations, label: str, report: Report,
                text_key: str, decode_masks: bool) -> None:
    """Structure of every ref, sentence and segmentation of one file."""
    bad, empty, seg_bad = [], [], []
    for ref in refer.refs:
        if ref['ann_id'] not in refer.anns:
            bad.append(f'ref {ref["ref_id"]}: annotation {ref["ann_id"]} '
                       'not in instances.json')
            continue
        if ref['image_id'] not in refer.imgs:
            bad.append(f'ref {ref["ref_id"]}: image {ref["image_id"]} not '
                       'in instances.json')
            continue
        if not ref['sentences']:
            bad.append(f'ref {ref["ref_id"]}: no sentence')
        for sent in ref['sentences']:
            try:
                text = sentence_text(sent, text_key)
            except KeyError as err:
                bad.append(f'ref {ref["ref_id"]}: {err.args[0]}')
                continue
            if not text.strip():
                empty.append(f'ref_id={ref["ref_id"]} '
                             f'sent_id={sent.get("sent_id")}')
        seg = refer.anns[ref['ann_id']].get('segmentation')
        img = refer.imgs[ref['image_id']]
        if isinstance(seg, list):
            problem = None if valid_polygons(seg) else \
                'no polygon with >= 3 points'
        elif isinstance(seg, dict) and 'counts' in seg:
            problem = None
        else:
            problem = f'segmentation of type {type(seg).__name__}'
        if problem is None and decode_masks:
            try:
                if not decode_segmentation(seg, img['height'],
                                           img['width']).any():
                    problem = 'empty mask'
            except ValueError as err:
                problem = str(err)
        if problem:
            seg_bad.append(f'ref {ref["ref_id"]} (ann {ref["ann_id"]}): '
                           f'{problem}')
    report.listed('error', f'{label}: malformed refs', bad)
    report.listed('error', f'{label}: unusable masks', seg_bad)
    report.listed(
        'warn', f'{label}: empty sentences (RefCOCODataset skips them '
        'with a warning by default)', empty)


def _check_images(paths: Dict[str, Tuple[int, int, str]], report: Report,
                  verify: bool) -> None:
    """Existence, recorded size and (optionally) full decoding of images."""
    missing, wrong_size, corrupt = [], [], []
    for path, (height, width, user) in sorted(paths.items()):
        if not osp.isfile(path):
            missing.append(f'{path} (used by {user})')
            continue
        try:
            with Image.open(path) as img:
                size = img.size
                if verify:
                    img.load()  # decodes every byte: finds truncation
        except Exception as err:  # PIL raises several types
            corrupt.append(f'{path}: {type(err).__name__}: {err}')
            continue
        if size != (width, height):
            wrong_size.append(f'{path}: {size[1]}x{size[0]} (HxW), '
                              f'instances.json says {height}x{width}')
    report.listed('error', 'missing images', missing)
    report.listed('error', 'unreadable images', corrupt)
    report.listed('error', 'images whose size differs from the annotation',
                  wrong_size)


def check_data_root(data_root: str,
                    datasets: Optional[Iterable[str]] = None,
                    ann_root: str = 'refer/',
                    img_dir: str = 'train2014/',
                    text_key: str = 'sent',
                    check_images: bool = True,
                    verify_images: bool = False,
                    decode_masks: bool = False) -> Report:
    """Check a DATA_PATH and return a :class:`Report`.

    Args:
        data_root (str): The DATA_PATH.
        datasets (Iterable[str], optional): Dataset names to check; every
            split_by of each is checked. Defaults to refcoco, refcoco+ and
            refcocog, plus refcocom when its files exist.
        ann_root (str): REFER folder inside data_root. Defaults to 'refer/'.
        img_dir (str): COCO train2014 folder inside data_root.
        text_key (str): Sentence field the runs will use. Defaults to
            'sent'.
        check_images (bool): Check that every referenced image exists and
            has the recorded size (reads the JPEG headers). Defaults to True.
        verify_images (bool): Also decode every image completely (finds
            truncated or corrupt files; slow). Defaults to False.
        decode_masks (bool): Rasterise every referred mask and flag empty
            ones. Defaults to False.
    """
    report = Report()
    if not osp.isdir(data_root):
        report.error(f'DATA_PATH {data_root} does not exist (or is not a '
                     'folder).')
        return report
    img_root = osp.join(data_root, img_dir)
    if not osp.isdir(img_root):
        report.error(f'image folder {img_root} does not exist: unzip COCO '
                     'train2014.zip there.')
    pairs = pairs_for(datasets)
    if datasets is None:
        try:
            locate_refer_files(data_root, ann_root, 'refcocom', 'mix')
            pairs.append(('refcocom', 'mix'))
        except FileNotFoundError:
            pass
    images: Dict[str, Tuple[int, int, str]] = {}
    for dataset, split_by in pairs:
        label = f'{dataset} ({split_by})'
        try:
            refs_path, inst_path = locate_refer_files(data_root, ann_root,
                                                      dataset, split_by)
            refer = ReferAnnotations(refs_path, inst_path)
        except (FileNotFoundError, ValueError, KeyError, TypeError) as err:
            report.error(f'{label}: {err}')
            continue
        splits = Counter(ref['split'] for ref in refer.refs)
        expected = REFER_SPLITS[(dataset, split_by)]
        absent = [s for s in expected if s not in splits]
        if absent:
            report.error(f'{label}: {refs_path} has no ref in the '
                         f'split(s) {absent} (found {dict(splits)}); the file '
                         'is incomplete.')
        _check_refs(refer, label, report, text_key, decode_masks)
        report.counts[label] = _split_counts(refer)
        for ref in refer.refs:
            img = refer.imgs.get(ref['image_id'])
            if img is None:
                continue
            path = osp.join(img_root, img['file_name'])
            images.setdefault(
                path,
                (img['height'], img['width'], f'{label} ref {ref["ref_id"]}'))
    if check_images and osp.isdir(img_root):
        _check_images(images, report, verify_images)
    return report


def _split_counts(refer: ReferAnnotations) -> Dict[str, Tuple[int, int, int]]:
    """(refs, sentences, images) per split."""
    out: Dict[str, list] = OrderedDict()
    for split in refer.splits:
        refs = [r for r in refer.refs if r['split'] == split]
        out[split] = (len(refs), sum(len(r['sentences']) for r in refs),
                      len({r['image_id']
                           for r in refs}))
    return out
