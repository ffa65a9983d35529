"""The CARIS encoder pair: image backbone plus prompted BERT.

Attribute names (``vis_encoder``, ``lang_encoder``, ``conditional_prompts``)
match the CARIS ``backbone.*`` checkpoint prefixes, so released weights
load without renaming.
"""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmris.registry import MODELS


@MODELS.register_module()
class CARISPromptEncoder(BaseModule):
    """Encode an image and a sentence, letting the image prompt BERT.

    The last visual map is turned into prompt tokens by
    ``conditional_prompts``; BERT encodes ``[sentence; prompts]`` and only
    the sentence positions are returned.

    Args:
        vis_encoder (dict): config of an image backbone returning four
            NCHW maps (strides 4, 8, 16, 32).
        lang_encoder (dict): config of a text encoder with the
            ``BertTextEncoder`` call signature.
        conditional_prompts (dict): config of a ``ConditionalPrompt``
            whose ``in_channels`` equals the last map's channels and
            ``embed_dims`` the BERT hidden size.
        text_film (dict, optional): config of a ``SentenceFiLM`` that
            modulates the four visual maps by the sentence before they
            leave the encoder. Not in CARIS (default None, the CARIS
            encoder); the demo uses it (docs/demo_data.md).
        early_fusion (dict, optional): config of a ``PixelWordAttention``
            that fuses the words into every Swin stage (LAVT-style). Not
            in CARIS (default None). The words come from a first pass of
            the text encoder without prompts, since the prompts need the
            finished visual maps; the decoder still gets the prompted
            pass, and only that pass trains the text encoder (the first
            runs without gradient). Needs a ``vis_encoder`` whose forward
            takes ``stage_fusion``.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 vis_encoder: dict,
                 lang_encoder: dict,
                 conditional_prompts: dict,
                 text_film: Optional[dict] = None,
                 early_fusion: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.vis_encoder = MODELS.build(vis_encoder)
        self.lang_encoder = MODELS.build(lang_encoder)
        self.conditional_prompts = MODELS.build(conditional_prompts)
        self.text_film = MODELS.build(text_film) if text_film else None
        self.early_fusion = (
            MODELS.build(early_fusion) if early_fusion else None)

    def forward(self, img: Tensor, input_ids: Tensor,
                attention_mask: Tensor) -> Tuple[Tuple[Tensor, ...], Tensor]:
        """Run both encoders.

        Args:
            img (Tensor): [B, 3, H, W] normalised images.
            input_ids (Tensor): [B, L] token ids.
            attention_mask (Tensor): [B, L] 0/1 padding mask.

        Returns:
            tuple: ``(vis_feats, text_feats)`` where ``vis_feats`` is the
            tuple of the backbone's four maps and ``text_feats`` is
            [B, L, H], BERT's last layer at the sentence positions (the
            prompt outputs are discarded, as in CARIS).
        """
        vis_feats = tuple(self._encode_image(img, input_ids, attention_mask))
        prompts = self.conditional_prompts(vis_feats[-1])
        hidden = self.lang_encoder(input_ids, attention_mask, prompts=prompts)
        text_feats = hidden[:, :input_ids.shape[1]]
        if self.text_film is not None:
            vis_feats = self.text_film(vis_feats, text_feats, attention_mask)
        return vis_feats, text_feats

    def _encode_image(self, img: Tensor, input_ids: Tensor,
                      attention_mask: Tensor):
        if self.early_fusion is None:
            return self.vis_encoder(img)
        # No gradient through this pass: the text encoder still learns
        # through the prompted pass the decoder uses, and a second BERT
        # backward would cost about a sixth of a demo training step.
        with torch.no_grad():
            words = self.lang_encoder(input_ids, attention_mask)

        def fuse(stage: int, tokens: Tensor) -> Tensor:
            return self.early_fusion(stage, tokens, words, attention_mask)

        return self.vis_encoder(img, stage_fusion=fuse)
