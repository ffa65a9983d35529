"""BERT text encoder that can append extra tokens (CARIS text prompts).

CARIS feeds BERT-base the embedded sentence followed by image-conditioned
prompt tokens and runs all twelve layers over the joint sequence. The HF
``BertModel.forward`` cannot do that (prompts must skip the embedding
layer), so this wrapper keeps HF's ``embeddings`` and ``encoder`` modules
and drives the layers itself.

State-dict layout: only ``embeddings.*`` and ``encoder.layer.N.*`` (no
pooler), which is exactly what CARIS checkpoints hold under
``backbone.lang_encoder.``. CARIS vendored transformers 3.0.2, whose
``BertEmbeddings`` computes position ids on the fly and has no
``position_ids`` buffer; transformers 5 registers ``position_ids`` and
``token_type_ids`` as non-persistent buffers, so they do not appear either.
Checkpoints written by transformers 3.1-4.30 do contain
``embeddings.position_ids``; it is dropped on load (it is always
``arange``), see :meth:`BertTextEncoder._load_from_state_dict`.
"""
import os.path as osp
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor
from transformers import BertConfig, BertModel

from mmris.models.utils.checkpoint import checkpoint_if
from mmris.registry import MODELS
from mmris.utils.paths import resolve_pretrained_path

# Additive attention-mask value of the reference (HF 3.0.2) implementation.
# Kept instead of ``finfo.min`` so masked logits match CARIS bit for bit.
MASK_VALUE = -10000.0

# Buffers some transformers releases serialise; they are deterministic
# (arange / zeros), so a checkpoint's copy is ignored rather than loaded.
_RECOMPUTED_BUFFERS = ('embeddings.position_ids', 'embeddings.token_type_ids')

_ATTN_IMPLEMENTATIONS = ('eager', 'sdpa')


def build_extended_attention_mask(attention_mask: Tensor,
                                  dtype: torch.dtype) -> Tensor:
    """Turn a [B, N] 0/1 key mask into BERT's additive [B, 1, 1, N] mask.

    Kept positions get 0 and padded ones ``-10000``, cast to ``dtype`` (the
    hidden-state dtype) as in the reference implementation.
    """
    mask = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - mask) * MASK_VALUE


def _load_pretrained_bert(pretrained: str,
                          attn_implementation: str) -> BertModel:
    """Load a pretrained BERT without pooler, with a config-aware error."""
    try:
        path = resolve_pretrained_path(pretrained)
        return BertModel.from_pretrained(
            path,
            add_pooling_layer=False,
            attn_implementation=attn_implementation,
            # Offline folders must never trigger a hub lookup.
            local_files_only=osp.isdir(path),
            # Train in fp32 whatever dtype the checkpoint was saved in; AMP
            # casts on the fly.
            dtype=torch.float32)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(
            f'BertTextEncoder could not load the pretrained BERT '
            f'"{pretrained}" given by the `pretrained` key of the text '
            f'encoder config (model.backbone.lang_encoder.pretrained): '
            f'{err}') from err


def _build_random_bert(config: dict, attn_implementation: str) -> BertModel:
    """Build a randomly initialised BERT (HF init) from config kwargs."""
    bert_config = BertConfig(**config, attn_implementation=attn_implementation)
    return BertModel(bert_config, add_pooling_layer=False)


@MODELS.register_module()
class BertTextEncoder(BaseModule):
    """BERT encoder (no pooler) returning every token's last hidden state.

    Args:
        pretrained (str, optional): hub name (``'bert-base-uncased'``),
            local folder, or ``pkg://<package>/<folder>`` resolved by
            :func:`mmris.utils.paths.resolve_pretrained_path`.
        config (dict, optional): ``BertConfig`` keyword arguments for a
            randomly initialised model. Exactly one of ``pretrained`` and
            ``config`` must be given.
        attn_implementation (str): ``'eager'`` or ``'sdpa'``; both compute
            the same attention with the same additive mask.
        with_cp (bool): Activation checkpointing of each BERT layer in
            training (part of the memory-saving option; CARIS runs BERT
            over the sentence plus the image-conditioned prompts). Same
            gradients. Defaults to False.
        num_layers (int, optional): Keep only the first ``num_layers``
            layers (of a pretrained model too: a cheaper encoder whose
            layers keep their pretrained weights, e.g. 3 of MiniLM's 6 in
            the CPU demo). None (default) keeps them all, as CARIS.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 config: Optional[dict] = None,
                 attn_implementation: str = 'eager',
                 with_cp: bool = False,
                 num_layers: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.with_cp = with_cp
        if (pretrained is None) == (config is None):
            raise ValueError(
                'BertTextEncoder needs exactly one of `pretrained` (a model '
                'name or folder) and `config` (BertConfig kwargs), got '
                f'pretrained={pretrained!r}, config={config!r}.')
        if attn_implementation not in _ATTN_IMPLEMENTATIONS:
            raise ValueError(
                f'attn_implementation must be one of {_ATTN_IMPLEMENTATIONS},'
                f' got {attn_implementation!r}.')
        if pretrained is not None:
            bert = _load_pretrained_bert(pretrained, attn_implementation)
        else:
            bert = _build_random_bert(dict(config), attn_implementation)
        # Keep only the two sub-modules so state-dict keys start with
        # ``embeddings.`` / ``encoder.`` as in CARIS checkpoints.
        self.bert_config = bert.config
        self.embeddings = bert.embeddings
        self.encoder = bert.encoder
        if num_layers is not None:
            self._truncate(num_layers)
        # ``from_pretrained`` returns the model in eval mode; follow this
        # module's mode instead so dropout is active when training.
        self.train(self.training)

    def _truncate(self, num_layers: int) -> None:
        """Drop every layer after the first ``num_layers``."""
        total = len(self.encoder.layer)
        if not 1 <= num_layers <= total:
            raise ValueError(
                f'BertTextEncoder: num_layers must be between 1 and the '
                f"model's {total} layers, got {num_layers}")
        self.encoder.layer = self.encoder.layer[:num_layers]
        self.bert_config.num_hidden_layers = num_layers

    @property
    def hidden_size(self) -> int:
        """Width of the hidden states (768 for BERT-base)."""
        return self.bert_config.hidden_size

    def embed(self, input_ids: Tensor) -> Tensor:
        """Word + position (0..L-1) + token-type-0 embeddings, LN, dropout.

        Args:
            input_ids (Tensor): [B, L] token ids.

        Returns:
            Tensor: [B, L, H].
        """
        return self.embeddings(input_ids=input_ids)

    def encode(self, hidden_states: Tensor, attention_mask: Tensor) -> Tensor:
        """Run all BERT layers over ``hidden_states``.

        Args:
            hidden_states (Tensor): [B, N, H] layer-0 inputs.
            attention_mask (Tensor): [B, N], 1 for tokens to attend to and 0
                for padding (bool or integer).

        Returns:
            Tensor: [B, N, H] output of the last layer.
        """
        extended_mask = build_extended_attention_mask(attention_mask,
                                                      hidden_states.dtype)
        for layer in self.encoder.layer:
            hidden_states = checkpoint_if(self.with_cp, self._run_layer,
                                          layer, hidden_states, extended_mask)
        return hidden_states

    @staticmethod
    def _run_layer(layer, hidden_states: Tensor, mask: Tensor) -> Tensor:
        """Call one HF ``BertLayer``.

        transformers 5 takes ``(hidden_states, attention_mask)`` and returns
        a tensor; 4.x returned a tuple whose first item is the output.
        """
        output = layer(hidden_states, mask)
        if isinstance(output, (tuple, list)):
            output = output[0]
        return output

    def forward(self,
                input_ids: Tensor,
                attention_mask: Tensor,
                prompts: Optional[Tensor] = None) -> Tensor:
        """Encode a sentence, optionally followed by prompt tokens.

        Args:
            input_ids (Tensor): [B, L] token ids.
            attention_mask (Tensor): [B, L] 0/1 padding mask.
            prompts (Tensor, optional): [B, P, H] extra tokens appended after
                the embedding layer. They get no position or token-type
                embedding, skip the embedding LN/dropout, and are always
                attended to.

        Returns:
            Tensor: [B, L + P, H] last-layer hidden states (P = 0 without
            prompts).
        """
        hidden_states = self.embed(input_ids)
        if prompts is not None:
            hidden_states, attention_mask = self._append_prompts(
                hidden_states, attention_mask, prompts)
        return self.encode(hidden_states, attention_mask)

    @staticmethod
    def _append_prompts(hidden_states: Tensor, attention_mask: Tensor,
                        prompts: Tensor):
        """Concatenate prompts after the tokens and extend the mask with 1s."""
        if prompts.dim() != 3 or prompts.shape[0] != hidden_states.shape[0] \
                or prompts.shape[2] != hidden_states.shape[2]:
            raise ValueError(
                f'prompts must be [B, P, H] = [{hidden_states.shape[0]}, P, '
                f'{hidden_states.shape[2]}], got {tuple(prompts.shape)}.')
        hidden_states = torch.cat(
            [hidden_states, prompts.to(hidden_states.dtype)], dim=1)
        prompt_mask = attention_mask.new_ones(prompts.shape[:2])
        attention_mask = torch.cat([attention_mask, prompt_mask], dim=1)
        return hidden_states, attention_mask

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Drop serialised position/token-type id buffers before loading.

        transformers 3.1-4.30 saved ``embeddings.position_ids`` (persistent
        buffer); here the buffers are non-persistent, so such a key would be
        reported as unexpected (or fail a strict load). They only hold
        ``arange`` / zeros, so ignoring them loses nothing. The parent runs
        before its children, so popping here hides the keys from
        ``embeddings``.
        """
        for name in _RECOMPUTED_BUFFERS:
            state_dict.pop(prefix + name, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
