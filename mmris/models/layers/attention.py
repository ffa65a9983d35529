"""Multi-head attention of the CARIS decoder (``MultiHeadAttention``).

CARIS uses its own attention block rather than ``nn.MultiheadAttention``:
the projections widen the tokens (256 -> 1024, i.e. head dim 128 for 8
heads), the scale is applied to the projected query, and the logits are
clamped to +-50000 before masking so that an fp16 ``q @ k^T`` that
overflowed to +-inf cannot turn the softmax into NaN.
"""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn


class MultiHeadAttention(nn.Module):
    """Multi-head attention with wide projections and clamped logits.

    Args:
        q_dim (int): Channels of the query tokens; also the output width.
        k_dim (int): Channels of the key and value tokens.
        embed_dims (int): Width of the projected q/k/v. Default: 1024.
        num_heads (int): Number of heads. Default: 8.
        dropout (float): Dropout on the attention weights. Default: 0.
        clamp_value (float): Logits are clamped to
            ``[-clamp_value, clamp_value]`` before masking. Default: 5e4.
        use_sdpa (bool): Use the fused
            ``F.scaled_dot_product_attention``. The fused kernels do not
            expose the logits, so **the clamp is not applied** on this
            path. They accumulate ``q @ k^T`` in fp32, so the fp16
            overflow the clamp guards against cannot happen there, and
            both paths agree whenever every ``|logit| <= clamp_value``
            (always the case for sane fp32 activations). Default: False.
    """

    def __init__(self,
                 q_dim: int,
                 k_dim: int,
                 embed_dims: int = 1024,
                 num_heads: int = 8,
                 dropout: float = 0.,
                 clamp_value: float = 50000.,
                 use_sdpa: bool = False) -> None:
        super().__init__()
        if embed_dims % num_heads != 0:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible '
                             f'by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.head_dims = embed_dims // num_heads
        self.scale = self.head_dims**-0.5
        self.clamp_value = clamp_value
        self.use_sdpa = use_sdpa
        self.dropout = dropout
        self.q_proj = nn.Linear(q_dim, embed_dims)
        self.k_proj = nn.Linear(k_dim, embed_dims)
        self.v_proj = nn.Linear(k_dim, embed_dims)
        self.out_proj = nn.Linear(embed_dims, q_dim)

    def _split_heads(self, x: Tensor) -> Tensor:
        """[B, N, heads * d] -> [B, heads, N, d]."""
        batch, num_tokens, _ = x.shape
        return x.view(batch, num_tokens, self.num_heads,
                      self.head_dims).transpose(1, 2)

    def attention_weights(self,
                          query: Tensor,
                          key: Tensor,
                          key_padding_mask: Optional[Tensor] = None) -> Tensor:
        """Softmax attention weights of the plain path.

        Args:
            query (Tensor): [B, Nq, q_dim].
            key (Tensor): [B, Nk, k_dim].
            key_padding_mask (Tensor, optional): [B, Nk] bool, True for
                keys to ignore (PyTorch convention).

        Returns:
            Tensor: [B, heads, Nq, Nk], before dropout.
        """
        q = self._split_heads(self.q_proj(query) * self.scale)
        k = self._split_heads(self.k_proj(key))
        logits = q @ k.transpose(-2, -1)
        logits = logits.clamp(-self.clamp_value, self.clamp_value)
        if key_padding_mask is not None:
            logits = logits.masked_fill(key_padding_mask[:, None, None, :],
                                        float('-inf'))
        return logits.softmax(dim=-1)

    def forward(self,
                query: Tensor,
                key: Tensor,
                value: Tensor,
                key_padding_mask: Optional[Tensor] = None) -> Tensor:
        """Attend ``query`` to ``key``/``value``.

        Args:
            query (Tensor): [B, Nq, q_dim].
            key (Tensor): [B, Nk, k_dim].
            value (Tensor): [B, Nk, k_dim].
            key_padding_mask (Tensor, optional): [B, Nk] bool, True for
                keys to ignore. A query whose keys are all masked gets
                NaN, as in the original (CARIS never does this: the mask
                prompts are always valid keys).

        Returns:
            Tensor: [B, Nq, q_dim].
        """
        batch, num_queries, _ = query.shape
        dropout = self.dropout if self.training else 0.
        v = self._split_heads(self.v_proj(value))
        if self.use_sdpa:
            q = self._split_heads(self.q_proj(query))
            k = self._split_heads(self.k_proj(key))
            attn_mask = None
            if key_padding_mask is not None:
                # SDPA's boolean mask marks the keys to *keep*.
                attn_mask = ~key_padding_mask[:, None, None, :]
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=attn_mask,
                dropout_p=dropout,
                scale=self.scale)
        else:
            weights = self.attention_weights(query, key, key_padding_mask)
            weights = F.dropout(weights, p=dropout, training=self.training)
            out = weights @ v
        out = out.transpose(1, 2).reshape(batch, num_queries, -1)
        return self.out_proj(out)
