"""RefCOCO, RefCOCO+, RefCOCOg and the combined refcocom for RIS."""
import os.path as osp
from typing import List, Optional

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmris.registry import DATASETS
from .refer import (ReferAnnotations, check_dataset_args, count_sentences,
                    gc_paused, locate_refer_files, sentence_text, valid_splits)

EMPTY_SENTENCE_MODES = ('skip', 'error', 'keep')


@DATASETS.register_module()
class RefCOCODataset(BaseDataset):
    """A REFER dataset (RefCOCO family) for referring image segmentation.

    Items, as in CARIS/MaskRIS:

    * training (``per_sentence=False``, the default when ``test_mode`` is
      False): one item per referred object (ref). Every time an item is
      fetched, one of its sentences is drawn uniformly at random (numpy's
      global generator, which mmengine seeds per data worker), so an epoch
      sees each object once with a fresh expression.
    * evaluation (``per_sentence=True``, the default when ``test_mode`` is
      True): one item per (ref, sentence), so every expression is scored.

    Masks are not decoded here: an item carries the COCO ``segmentation``
    (polygons or RLE) and ``LoadRefMask`` rasterises it when the item is
    loaded, so start-up stays in seconds on the full annotation sets.

    Keys of an item (``get_data_info``): ``img_path``, ``image_id``,
    ``ref_id``, ``ann_id``, ``category_id``, ``segmentation``,
    ``ori_height``, ``ori_width``, ``sentence``, ``sent_id``, ``split``,
    ``dataset_name`` and, for per-ref items, ``sentences``/``sent_ids``.

    Args:
        data_root (str): The ``DATA_PATH`` holding ``train2014/`` and
            ``refer/``. Defaults to 'data/'.
        dataset (str): 'refcoco', 'refcoco+', 'refcocog', 'refcocom' or
            'shapes' (the synthetic set of ``mmris.datasets.synthetic``).
        split_by (str, optional): 'unc' (refcoco, refcoco+, shapes),
            'google' (refcoco, refcocog), 'umd' (refcocog) or 'mix'
            (refcocom). Defaults to unc / unc / umd / mix / unc.
        split (str): 'train', 'val', 'testA', 'testB' (unc), 'test' (umd,
            refcoco google; for refcoco(+) unc REFER's alias of testA +
            testB). refcocom accepts the splits its file holds; shapes has
            'train', 'val', 'testA', 'testB' and 'testOcc'.
        ann_root (str): Folder of the REFER dataset folders, relative to
            ``data_root`` unless absolute. Defaults to 'refer/'. refcocom is
            also looked for in ``data_root/refcocom``.
        data_prefix (dict): ``img_path`` folder of the COCO train2014 JPEGs.
            Defaults to ``dict(img_path='train2014/')``.
        text_key (str): Sentence field: 'sent' (REFER's normalised text, as
            the reference) or 'raw' (as typed by the annotator).
        per_sentence (bool, optional): Item per sentence (True) or per ref
            (False). Defaults to ``test_mode``.
        empty_sentence (str): What to do with an empty or whitespace-only
            sentence: 'skip' it with a logged warning naming its ids (a ref
            left without sentences is skipped too), raise a ValueError
            ('error'), or 'keep' it (it tokenizes to ``[CLS] [SEP]``, as the
            reference would). Defaults to 'skip'.
        check_images (bool): Check at start-up that every image file
            exists (one ``stat`` per image) and raise listing the missing
            ones. Without it a missing image raises when its item is
            loaded. Defaults to False.
        **kwargs: ``pipeline``, ``test_mode``, ``metainfo``,
            ``serialize_data``, ``lazy_init``, ``indices``, ``max_refetch``
            of :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(
        classes=('background', 'referent'), palette=[[0, 0, 0], [255, 64, 64]])

    def __init__(self,
                 data_root: str = 'data/',
                 dataset: str = 'refcoco',
                 split_by: Optional[str] = None,
                 split: str = 'train',
                 ann_root: str = 'refer/',
                 data_prefix: dict = dict(img_path='train2014/'),
                 text_key: str = 'sent',
                 per_sentence: Optional[bool] = None,
                 empty_sentence: str = 'skip',
                 check_images: bool = False,
                 **kwargs) -> None:
        self.dataset = dataset
        self.split_by = check_dataset_args(dataset, split_by)
        splits = valid_splits(dataset, self.split_by)
        if splits and split not in splits:
            raise ValueError(f'unknown split "{split}" for {dataset} '
                             f'({self.split_by}); valid: {", ".join(splits)}')
        if text_key not in ('sent', 'raw'):
            raise ValueError(f'text_key must be "sent" or "raw", got '
                             f'"{text_key}"')
        if empty_sentence not in EMPTY_SENTENCE_MODES:
            raise ValueError(f'empty_sentence must be one of '
                             f'{EMPTY_SENTENCE_MODES}, got "{empty_sentence}"')
        self.split = split
        self.ann_root = ann_root
        self.text_key = text_key
        self.empty_sentence = empty_sentence
        self.check_images = check_images
        test_mode = kwargs.get('test_mode', False)
        self.per_sentence = test_mode if per_sentence is None else \
            per_sentence
        self.dataset_name = f'{dataset}_{self.split_by}'
        self.num_refs = 0
        self.num_sentences = 0
        super().__init__(
            data_root=data_root, data_prefix=data_prefix, **kwargs)
        # Set after BaseDataset, which takes str metainfo values for file
        # names to load (and warns when they are not).
        for key, value in (('dataset_name', self.dataset_name),
                           ('split_by', self.split_by), ('split', split)):
            self._metainfo.setdefault(key, value)

    def load_data_list(self) -> List[dict]:
        """Read the REFER files and build one item per ref or sentence."""
        # Millions of small objects are created here; the cyclic GC would
        # rescan them over and over without freeing anything.
        with gc_paused():
            return self._load_data_list()

    def _load_data_list(self) -> List[dict]:
        refs_path, instances_path = locate_refer_files(self.data_root,
                                                       self.ann_root,
                                                       self.dataset,
                                                       self.split_by)
        refer = ReferAnnotations(refs_path, instances_path)
        refs = refer.select(self.split)
        self.num_refs = self.num_sentences = 0
        if not refs:
            raise ValueError(
                f'no ref of {refs_path} is in split "{self.split}"; the file '
                f'holds the splits {refer.splits}.')
        img_prefix = self.data_prefix.get('img_path', '')
        data_list, empty = [], []
        for ref in refs:
            ann = refer.ann_of(ref)
            img = refer.img_of(ref)
            texts, sent_ids = self._sentences(ref, empty)
            if not texts:
                continue
            base = dict(
                img_path=osp.join(img_prefix, img['file_name']),
                image_id=ref['image_id'],
                ref_id=ref['ref_id'],
                ann_id=ref['ann_id'],
                category_id=ref.get('category_id', ann.get('category_id')),
                segmentation=ann['segmentation'],
                ori_height=img['height'],
                ori_width=img['width'],
                split=self.split,
                dataset_name=self.dataset_name)
            if self.per_sentence:
                for text, sent_id in zip(texts, sent_ids):
                    data_list.append(
                        dict(base, sentence=text, sent_id=sent_id))
            else:
                data_list.append(
                    dict(base, sentences=texts, sent_ids=sent_ids))
            self.num_refs += 1
            self.num_sentences += len(texts)
        self._report_empty(empty)
        if not data_list:
            raise ValueError(f'{self.dataset_name} {self.split}: every '
                             'sentence is empty; no item left.')
        if self.check_images:
            self._check_image_files(data_list)
        print_log(
            f'{self.dataset_name} {self.split}: {self.num_refs} refs, '
            f'{self.num_sentences} sentences, {len(data_list)} items (one '
            f'per {"sentence" if self.per_sentence else "ref"}); of '
            f'{len(refer.refs)} refs, {count_sentences(refer.refs)} '
            'sentences in the file.',
            logger='current')
        return data_list

    def _sentences(self, ref: dict, empty: list) -> tuple:
        """The usable texts and sent_ids of a ref (empty ones handled)."""
        texts, sent_ids = [], []
        for sentence in ref['sentences']:
            text = sentence_text(sentence, self.text_key)
            if not text.strip() and self.empty_sentence != 'keep':
                where = (f'ref_id={ref["ref_id"]} '
                         f'sent_id={sentence.get("sent_id")}')
                if self.empty_sentence == 'error':
                    raise ValueError(
                        f'{self.dataset_name} {self.split}: empty sentence '
                        f'({self.text_key}={text!r}) at {where}; pass '
                        'empty_sentence="skip" to leave it out.')
                empty.append(where)
                continue
            texts.append(text)
            sent_ids.append(sentence.get('sent_id'))
        return texts, sent_ids

    def _report_empty(self, empty: list) -> None:
        if not empty:
            return
        shown = '; '.join(empty[:10]) + (' ...' if len(empty) > 10 else '')
        print_log(
            f'{self.dataset_name} {self.split}: skipped {len(empty)} empty '
            f'sentence(s) ({shown}). Refs left without a sentence are '
            'skipped too.',
            logger='current',
            level=30)

    @staticmethod
    def _check_image_files(data_list: List[dict]) -> None:
        paths = sorted({item['img_path'] for item in data_list})
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            shown = ', '.join(missing[:10])
            raise FileNotFoundError(
                f'{len(missing)} of {len(paths)} images are missing: '
                f'{shown}{" ..." if len(missing) > 10 else ""}. Put the COCO '
                'train2014 JPEGs there (see docs/dataset_prepare.md).')

    def get_data_info(self, idx: int) -> dict:
        """An item; per-ref items get a freshly drawn ``sentence``."""
        info = super().get_data_info(idx)
        if 'sentences' in info:
            k = np.random.randint(len(info['sentences']))
            info['sentence'] = info['sentences'][k]
            info['sent_id'] = info['sent_ids'][k]
        return info
