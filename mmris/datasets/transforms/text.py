"""Tokenize the referring expression for the BERT text encoder."""
import os
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmris.registry import TRANSFORMS
from .cache import LRUCache


@TRANSFORMS.register_module()
class BertTokenize(BaseTransform):
    """WordPiece-encode ``sentence`` into fixed-length ids and mask.

    Encoding, as CARIS/MaskRIS: ``[CLS] + wordpieces + [SEP]``, then the
    first ``max_length`` ids are kept (a plain slice), then zero-padded;
    ``attention_mask`` is 1 on the kept ids and 0 on the padding.

    Truncation quirk: with the default ``keep_sep=False`` a sentence longer
    than ``max_length - 2`` wordpieces loses its ``[SEP]`` (the reference
    slices after adding the special tokens). ``keep_sep=True`` keeps the
    first ``max_length - 2`` wordpieces and ends with ``[SEP]`` instead;
    models trained with the reference expect the default. A warning is
    logged the first time a sentence is cut in a process.

    The tokenizer is loaded on first use in each process (data workers
    included) with ``transformers.AutoTokenizer``, from a local folder, a
    ``pkg://`` path (see :func:`mmris.utils.resolve_pretrained_path`) or a
    hub name; bert-base-uncased lower-cases, so 'raw' and 'sent' texts differ
    only in punctuation and REFER's normalisation.

    Caching (opt-in, ``cache_size > 0``): the kept ids of each sentence are
    stored in a least-recently-used cache of at most ``cache_size``
    sentences per process (each data-loader worker has its own, see
    :mod:`mmris.datasets.transforms.cache`); a hit skips the HF tokenizer
    (~0.1-0.2 ms) and gives the same ids. An entry costs ~320 bytes
    (measured: the sentence, an int32 array of <= ``max_length`` ids, the
    LRU links): RefCOCO's ~142k train sentences take ~45 MB per worker.

    Required keys: ``sentence`` (or ``text_key``). Added keys:
    ``input_ids`` and ``attention_mask`` (np.int64 ``[max_length]``).

    Args:
        tokenizer (str): Tokenizer folder, ``pkg://`` path or hub name.
            Defaults to 'bert-base-uncased'.
        max_length (int): Number of ids including the special tokens.
            Defaults to 20.
        keep_sep (bool): End truncated sentences with ``[SEP]``. Defaults
            to False (the reference).
        text_key (str): Results key of the text. Defaults to 'sentence'.
        cache_size (int): Most sentences kept in the per-process cache; 0
            (default) disables it.
    """

    def __init__(self,
                 tokenizer: str = 'bert-base-uncased',
                 max_length: int = 20,
                 keep_sep: bool = False,
                 text_key: str = 'sentence',
                 cache_size: int = 0) -> None:
        if max_length < 2:
            raise ValueError(f'max_length must be >= 2 ([CLS] and [SEP]), '
                             f'got {max_length}')
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.keep_sep = keep_sep
        self.text_key = text_key
        self.cache_size = int(cache_size)
        self._tokenizer = None
        self._pid: Optional[int] = None
        self._cache = LRUCache(max_items=self.cache_size)
        self._warned = False

    def __getstate__(self) -> dict:
        # Data workers rebuild the tokenizer themselves (and HF's fast
        # tokenizer must not be shared across a fork after use).
        state = dict(self.__dict__)
        # The cache empties itself when pickled (LRUCache.__getstate__).
        state.update(_tokenizer=None, _pid=None)
        return state

    @property
    def cache(self) -> LRUCache:
        """The sentence cache of this process."""
        return self._cache

    @property
    def hf_tokenizer(self):
        """The transformers tokenizer of this process."""
        if self._tokenizer is None or self._pid != os.getpid():
            from transformers import AutoTokenizer

            from mmris.utils import resolve_pretrained_path
            self._tokenizer = AutoTokenizer.from_pretrained(
                resolve_pretrained_path(self.tokenizer))
            self._pid = os.getpid()
        return self._tokenizer

    def encode(self, text: str) -> Tuple[np.ndarray, np.ndarray]:
        """Return ``(input_ids, attention_mask)`` of one sentence."""
        ids = self._cache.get(text)
        if ids is None:
            ids = self._kept_ids(text)
            self._cache.put(text, ids)
        input_ids = np.zeros(self.max_length, dtype=np.int64)
        attention_mask = np.zeros(self.max_length, dtype=np.int64)
        input_ids[:len(ids)] = ids
        attention_mask[:len(ids)] = 1
        return input_ids, attention_mask

    def _kept_ids(self, text: str) -> np.ndarray:
        """The ids kept after truncation (int32, no padding)."""
        ids = list(
            self.hf_tokenizer(text, add_special_tokens=True)['input_ids'])
        if len(ids) > self.max_length:
            self._warn_truncation(text, len(ids))
            if self.keep_sep:
                ids = ids[:self.max_length - 1] + ids[-1:]
            else:
                ids = ids[:self.max_length]
        return np.asarray(ids, dtype=np.int32)

    def _warn_truncation(self, text: str, num_ids: int) -> None:
        if self._warned:
            return
        self._warned = True
        tail = 'ending with [SEP]' if self.keep_sep else \
            'dropping [SEP] as the reference does'
        print_log(
            f'BertTokenize: "{text}" has {num_ids} ids with [CLS]/[SEP]; '
            f'sentences are cut to the first {self.max_length} ids, {tail} '
            '(logged once per process).',
            logger='current',
            level=30)

    def transform(self, results: dict) -> dict:
        """Add ``input_ids`` and ``attention_mask``."""
        if self.text_key not in results:
            raise KeyError(
                f'BertTokenize needs "{self.text_key}" in the results; the '
                'dataset writes "sentence" (ref_id '
                f'{results.get("ref_id")}).')
        text = results[self.text_key]
        if not isinstance(text, str):
            raise TypeError(f'"{self.text_key}" must be a str, got '
                            f'{type(text).__name__}')
        results['input_ids'], results['attention_mask'] = self.encode(text)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(tokenizer={self.tokenizer!r}, '
                f'max_length={self.max_length}, keep_sep={self.keep_sep}, '
                f'text_key={self.text_key!r}, '
                f'cache_size={self.cache_size})')
