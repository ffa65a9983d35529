"""MaskRIS input masking (arXiv 2411.19067), the data-pipeline half.

Split of the work between CPU data workers and the device:

* this transform (CPU workers) decides WHICH 32x32 image patches are hidden
  and writes ``img_patch_mask`` (bool ``[H/p, W/p]``, True = hidden); it also
  corrupts the text into ``masked_input_ids``, leaving ``input_ids`` clean;
* the segmentor (``MaskRISSegmentor.mask_images``, on the device) zero-fills
  the hidden patches of the batch AFTER normalisation, so the fill value is
  the ImageNet mean colour, exactly as the reference does on the GPU.

Zero-filling a whole batch is one multiply on the accelerator, while the
per-sample random draws are cheap on the CPU and reproducible there.
"""
import os
from typing import Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmris.registry import TRANSFORMS

# bert-base-uncased: [PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103.
BERT_SPECIAL_IDS = (0, 100, 101, 102, 103)
BERT_MASK_ID = 103
BERT_VOCAB_SIZE = 30522


@TRANSFORMS.register_module()
class MaskRIS(BaseTransform):
    """Draw the MaskRIS image patch mask and the BERT-style text corruption.

    Put it in the training pipeline after the resize to the network input
    size and after the tokenizer, before ``PackRISInputs``. It is a training
    augmentation only: leave it out of the test pipeline.

    Required keys: ``img`` (or ``img_shape``), ``input_ids``; optional
    ``attention_mask``. Added keys: ``img_patch_mask`` (np.bool_
    ``[H/p, W/p]``, True = zero-filled in the masked pass) and
    ``masked_input_ids`` (np.int64, same length as ``input_ids``).

    Image masking (MAE-style): per sample, exactly
    ``int(N * (1 - img_mask_ratio))`` of the ``N = (H/p) * (W/p)`` patches
    are kept, chosen uniformly without replacement (argsort of uniform
    noise); all others are hidden. At 448 px and p = 32 that keeps 49 of 196.

    Text masking (BERT-style, reference rule): one uniform draw ``u`` per
    position; a position is selected when ``u < txt_mask_ratio`` and its token
    is neither special nor padding. A selected token becomes ``[MASK]`` with
    probability ``txt_sub_probs[0]``, a random vocabulary id with
    ``txt_sub_probs[1]`` and stays unchanged otherwise.

    Randomness: a ``numpy.random.Generator`` per process, seeded on first use
    from numpy's global state. mmengine seeds that state in the main process
    (``randomness.seed``) and in every data worker (its ``worker_init_fn``),
    so masks are fresh per call, differ between workers, and runs repeat.

    Args:
        img_mask_ratio (float): Fraction of patches hidden. 0 hides none.
            Defaults to 0.75.
        patch_size (int): Side of a square patch in pixels of the network
            input. Defaults to 32.
        txt_mask_ratio (float): Probability that an eligible token is
            selected. 0 disables text corruption. Defaults to 0.15.
        txt_sub_probs (tuple[float, float]): Probabilities that a selected
            token becomes ``[MASK]`` and a random token; the rest stays
            unchanged. Defaults to (0.8, 0.1).
        tokenizer (str, optional): Folder, ``pkg://`` path or hub name of a
            HuggingFace tokenizer. When given, ``mask_token_id``,
            ``vocab_size`` and ``special_ids`` are read from it and the three
            arguments below are ignored. Defaults to None.
        mask_token_id (int): Id of ``[MASK]``. Defaults to 103.
        vocab_size (int): Random replacements are drawn from
            ``range(vocab_size)``. Defaults to 30522.
        special_ids (Sequence[int]): Ids that are never selected (padding is
            also excluded through ``attention_mask`` when present).
            Defaults to bert-base-uncased's (0, 100, 101, 102, 103).
        random_exclude_special (bool): Draw random replacements only among
            non-special ids. The reference draws from the whole vocabulary, so
            it may insert e.g. ``[PAD]`` or ``[SEP]``; False reproduces that.
            Defaults to False.
        seed (int, optional): Fix the generator's seed (tests, single
            process). With several data workers every worker would then draw
            the same masks; leave None for training. Defaults to None.
    """

    def __init__(self,
                 img_mask_ratio: float = 0.75,
                 patch_size: int = 32,
                 txt_mask_ratio: float = 0.15,
                 txt_sub_probs: Tuple[float, float] = (0.8, 0.1),
                 tokenizer: Optional[str] = None,
                 mask_token_id: int = BERT_MASK_ID,
                 vocab_size: int = BERT_VOCAB_SIZE,
                 special_ids: Sequence[int] = BERT_SPECIAL_IDS,
                 random_exclude_special: bool = False,
                 seed: Optional[int] = None) -> None:
        if not 0.0 <= img_mask_ratio < 1.0:
            raise ValueError('img_mask_ratio must be in [0, 1), got '
                             f'{img_mask_ratio}')
        if patch_size <= 0:
            raise ValueError(f'patch_size must be positive, got {patch_size}')
        if not 0.0 <= txt_mask_ratio <= 1.0:
            raise ValueError('txt_mask_ratio must be in [0, 1], got '
                             f'{txt_mask_ratio}')
        if len(txt_sub_probs) != 2 or min(txt_sub_probs) < 0 or \
                sum(txt_sub_probs) > 1.0 + 1e-9:
            raise ValueError('txt_sub_probs must be two non-negative '
                             'probabilities summing to at most 1, got '
                             f'{txt_sub_probs}')
        self.img_mask_ratio = float(img_mask_ratio)
        self.patch_size = int(patch_size)
        self.txt_mask_ratio = float(txt_mask_ratio)
        self.txt_sub_probs = tuple(float(p) for p in txt_sub_probs)
        self.tokenizer = tokenizer
        if tokenizer is not None:
            mask_token_id, vocab_size, special_ids = \
                self._ids_from_tokenizer(tokenizer)
        self.mask_token_id = int(mask_token_id)
        self.vocab_size = int(vocab_size)
        self.special_ids = tuple(sorted({int(i) for i in special_ids}))
        self.random_exclude_special = random_exclude_special
        if random_exclude_special:
            allowed = np.ones(self.vocab_size, dtype=bool)
            allowed[[i for i in self.special_ids if i < self.vocab_size]] = \
                False
            self._replacement_ids = np.flatnonzero(allowed)
        else:
            self._replacement_ids = None
        self.seed = seed
        self._rng: Optional[np.random.Generator] = None
        self._rng_pid: Optional[int] = None

    @staticmethod
    def _ids_from_tokenizer(name_or_path: str) -> Tuple[int, int, tuple]:
        """Read [MASK], the vocabulary size and the special ids."""
        from transformers import AutoTokenizer

        from mmris.utils import resolve_pretrained_path
        tok = AutoTokenizer.from_pretrained(
            resolve_pretrained_path(name_or_path))
        if tok.mask_token_id is None:
            raise ValueError(f'tokenizer "{name_or_path}" has no mask token')
        specials = set(tok.all_special_ids)
        if tok.pad_token_id is not None:
            specials.add(tok.pad_token_id)
        return tok.mask_token_id, len(tok), tuple(specials)

    @property
    def rng(self) -> np.random.Generator:
        """The generator of this process (re-created after a fork)."""
        pid = os.getpid()
        if self._rng is None or self._rng_pid != pid:
            seed = self.seed
            if seed is None:
                # numpy's global state is what mmengine seeds per worker.
                seed = np.random.randint(0, 2**31 - 1)
            self._rng = np.random.default_rng(seed)
            self._rng_pid = pid
        return self._rng

    def patch_mask(self, height: int, width: int) -> np.ndarray:
        """Return a fresh bool mask ``[H/p, W/p]`` (True = hidden)."""
        p = self.patch_size
        if height % p or width % p:
            raise ValueError(
                f'MaskRIS: image size {height}x{width} is not divisible by '
                f'patch_size={p}; resize to a multiple of the patch size '
                'before MaskRIS (the reference asserts the same).')
        grid = (height // p, width // p)
        num = grid[0] * grid[1]
        num_keep = int(num * (1 - self.img_mask_ratio))
        # Uniform sampling without replacement of the kept patches, as MAE.
        keep = np.argsort(self.rng.random(num))[:num_keep]
        hidden = np.ones(num, dtype=np.bool_)
        hidden[keep] = False
        return hidden.reshape(grid)

    def mask_tokens(self,
                    input_ids: np.ndarray,
                    attention_mask: Optional[np.ndarray] = None
                    ) -> np.ndarray:
        """Return a corrupted copy of ``input_ids`` (np.int64)."""
        ids = np.asarray(input_ids, dtype=np.int64)
        masked = ids.copy()
        if self.txt_mask_ratio <= 0:
            return masked
        # One draw per position, padding included, as the reference does.
        u = self.rng.random(ids.shape)
        eligible = ~np.isin(ids, self.special_ids)
        if attention_mask is not None:
            eligible &= np.asarray(attention_mask) > 0
        selected = eligible & (u < self.txt_mask_ratio)
        # u / ratio is again uniform on [0, 1) given selection.
        v = u / self.txt_mask_ratio
        p_mask, p_rand = self.txt_sub_probs
        to_mask = selected & (v < p_mask)
        to_rand = selected & (v >= p_mask) & (v < p_mask + p_rand)
        masked[to_mask] = self.mask_token_id
        num_rand = int(to_rand.sum())
        if num_rand:
            if self._replacement_ids is None:
                new = self.rng.integers(0, self.vocab_size, size=num_rand)
            else:
                new = self.rng.choice(self._replacement_ids, size=num_rand)
            masked[to_rand] = new
        return masked

    def transform(self, results: dict) -> dict:
        """Add ``img_patch_mask`` and ``masked_input_ids`` to ``results``."""
        if 'img' in results:
            height, width = results['img'].shape[:2]
        elif 'img_shape' in results:
            height, width = results['img_shape'][:2]
        else:
            raise KeyError('MaskRIS needs "img" or "img_shape" in results')
        if 'input_ids' not in results:
            raise KeyError('MaskRIS needs "input_ids": put it after the '
                           'tokenizer transform in the pipeline')
        results['img_patch_mask'] = self.patch_mask(height, width)
        results['masked_input_ids'] = self.mask_tokens(
            results['input_ids'], results.get('attention_mask'))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}('
                f'img_mask_ratio={self.img_mask_ratio}, '
                f'patch_size={self.patch_size}, '
                f'txt_mask_ratio={self.txt_mask_ratio}, '
                f'txt_sub_probs={self.txt_sub_probs}, '
                f'mask_token_id={self.mask_token_id}, '
                f'vocab_size={self.vocab_size}, '
                f'special_ids={self.special_ids}, '
                f'random_exclude_special={self.random_exclude_special})')
