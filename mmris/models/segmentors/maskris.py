"""MaskRIS: CARIS trained with masked inputs and Distortion-aware
Contextual Learning (DCL), arXiv 2411.19067.

Per iteration and mini-batch (spec maskris.md section 4):

* clean pass: clean image + clean text, weighted CE against the GT,
  weight ``lambda_clean`` (0.5);
* masked pass: the same images with the hidden 32x32 patches zero-filled
  after normalisation and the corrupted text, soft CE at 1/4 resolution
  against the stop-gradient softmax of the clean logits, weight
  ``1 - lambda_clean``;
* one optimizer step on the summed gradients.

Which patches and tokens are hidden is drawn by the ``MaskRIS`` transform in
the CPU data workers (``img_patch_mask``, ``masked_input_ids``); the zero fill
of the normalised batch happens here, on the device (``mask_images``).
Inference is the clean single pass of :class:`RISEncoderDecoder`.
"""
from contextlib import nullcontext
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import MODEL_WRAPPERS as ROOT_MODEL_WRAPPERS
from torch import Tensor

from mmris.engine.compat import CPUDistributedDataParallel
from mmris.registry import MODEL_WRAPPERS, MODELS
from .ris_encoder_decoder import RISEncoderDecoder

SampleList = Sequence
DCL_DEFAULTS = dict(
    lambda_clean=0.5,
    image_masking=True,
    text_masking=True,
    distill=True,
    memory_saving=True,
    batched=False,
    class_weight=(0.9, 1.1))


def soft_cross_entropy(logits: Tensor,
                       target: Tensor,
                       class_weight: Optional[Sequence[float]] = None
                       ) -> Tensor:
    """Class-weighted cross-entropy against probability targets.

    ``mean over (B, h, w) of -sum_c w_c * q_c * log softmax(logits)_c``,
    i.e. PyTorch's ``cross_entropy`` with probability targets and
    ``reduction='mean'``: divided by the number of pixels, not by a sum of
    weights. Computed in fp32 (the logits may come from autocast).

    Args:
        logits (Tensor): Student logits ``[B, C, h, w]``.
        target (Tensor): Probabilities ``[B, C, h, w]`` (no gradient needed).
        class_weight (Sequence[float], optional): ``w_c``; None = all ones.
    """
    if logits.shape != target.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and target '
                         f'{tuple(target.shape)} must have the same shape')
    log_prob = F.log_softmax(logits.float(), dim=1)
    prod = -target.float() * log_prob
    if class_weight is not None:
        weight = prod.new_tensor(class_weight).view(1, -1, *[1] *
                                                    (prod.dim() - 2))
        prod = prod * weight
    return prod.sum(1).mean()


@MODELS.register_module()
class MaskRISSegmentor(RISEncoderDecoder):
    """CARIS with MaskRIS training (image/text masking + DCL).

    Args:
        dcl (dict): MaskRIS training switches (missing keys take defaults):

            - ``lambda_clean`` (float): weight of the clean-path CE; the
              masked path gets ``1 - lambda_clean`` (paper Table D; 0.5 is
              the released recipe).
            - ``image_masking`` (bool): zero-fill the hidden patches in the
              masked pass (needs ``img_patch_mask`` in the data samples).
            - ``text_masking`` (bool): use ``masked_input_ids`` in the
              masked pass.
            - ``distill`` (bool): True = DCL. False = "masking without DCL"
              (paper Table 3): a single pass on the masked inputs supervised
              by the GT with the CARIS CE, loss weight 1; no clean pass.
            - ``memory_saving`` (bool): True = backward the clean pass before
              the masked forward (two backward passes, one optimizer step,
              peak memory of one pass, as the reference); False = one graph,
              one backward of the summed loss. The gradients are the same.
            - ``batched`` (bool): True = one forward of the clean and the
              masked inputs concatenated (batch 2B; the clean half gives
              the stop-gradient target of the masked half) and one
              backward; overrides ``memory_saving`` (peak memory of a
              2B pass). Same losses and gradients as the single-graph
              form, fewer and larger kernel calls. Default False.
            - ``class_weight`` (tuple): ``w_c`` of the soft CE,
              background/referent (0.9, 1.1) as the reference.
        **kwargs: Arguments of :class:`RISEncoderDecoder`.

    Under distributed training the memory-saving form needs the model
    wrapper :class:`MaskRISDistributedDataParallel` (set in
    ``model_wrapper_cfg``); with another wrapper the single-graph form runs.
    """

    def __init__(self, *args, dcl: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = dict(DCL_DEFAULTS)
        unknown = set(dcl or {}) - set(cfg)
        if unknown:
            raise KeyError(f'unknown dcl keys {sorted(unknown)}; expected '
                           f'{sorted(cfg)}')
        cfg.update(dcl or {})
        if not 0.0 <= cfg['lambda_clean'] <= 1.0:
            raise ValueError('dcl.lambda_clean must be in [0, 1], got '
                             f'{cfg["lambda_clean"]}')
        self.dcl = cfg

    # ------------------------------------------------------------------
    # masked inputs
    # ------------------------------------------------------------------
    def mask_images(self, inputs: Tensor,
                    data_samples: SampleList) -> Tensor:
        """Zero-fill the hidden patches of a normalised batch.

        ``img_patch_mask`` (``[H/p, W/p]`` bool per sample) is expanded to
        pixels by nearest upsampling; 0 in normalised space is the dataset
        mean colour, the reference's fill value.
        """
        masks = torch.stack([
            ds.img_patch_mask.to(inputs.device, torch.bool)
            for ds in data_samples
        ])
        height, width = inputs.shape[-2:]
        grid_h, grid_w = masks.shape[-2:]
        if height % grid_h or width % grid_w or \
                height // grid_h != width // grid_w:
            raise ValueError(
                f'img_patch_mask grid {grid_h}x{grid_w} does not tile the '
                f'input batch {height}x{width}')
        patch = height // grid_h
        pixels = masks.repeat_interleave(patch, 1).repeat_interleave(
            patch, 2)
        return inputs.masked_fill(pixels.unsqueeze(1), 0.0)

    def masked_inputs(self, inputs: Tensor, data_samples: SampleList
                      ) -> Tuple[Tensor, Tensor, Tensor]:
        """Images, ids and attention mask of the masked pass."""
        images = self.mask_images(inputs, data_samples) \
            if self.dcl['image_masking'] else inputs
        key = 'masked_input_ids' if self.dcl['text_masking'] else \
            'input_ids'
        input_ids = self.stack_text(data_samples, key)
        # The reference keeps the clean attention mask: masked or replaced
        # tokens stay attended.
        attention_mask = self.stack_text(data_samples, 'attention_mask')
        return images, input_ids, attention_mask

    # ------------------------------------------------------------------
    # the two passes
    # ------------------------------------------------------------------
    def clean_pass(self, inputs: Tensor,
                   data_samples: SampleList) -> Tuple[Tensor, Tensor]:
        """Return (unweighted GT loss L_o, raw clean logits [B,2,h,w])."""
        logits = self.encode_decode_logits(
            inputs, self.stack_text(data_samples, 'input_ids'),
            self.stack_text(data_samples, 'attention_mask'))
        return self.gt_loss(logits, data_samples), logits

    def masked_pass(self,
                    inputs: Tensor,
                    data_samples: SampleList,
                    soft_target: Optional[Tensor] = None) -> Tensor:
        """Unweighted loss of the masked pass.

        Soft CE against ``soft_target`` (DCL) or, when it is None, the GT CE
        ("masking without DCL").
        """
        logits = self.encode_decode_logits(
            *self.masked_inputs(inputs, data_samples))
        if soft_target is None:
            return self.gt_loss(logits, data_samples)
        return soft_cross_entropy(logits, soft_target,
                                  self.dcl['class_weight'])

    @staticmethod
    def soft_target(clean_logits: Tensor) -> Tensor:
        """Stop-gradient softmax of the clean logits (fp32)."""
        return F.softmax(clean_logits.detach().float(), dim=1)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Single-graph MaskRIS loss (also the no-DCL variant).

        Returns ``loss_clean = lambda * L_o`` and
        ``loss_masked = (1 - lambda) * L_m``; without DCL only
        ``loss_masked`` (the GT CE of the masked pass).
        """
        if not self.dcl['distill']:
            return dict(loss_masked=self.masked_pass(inputs, data_samples))
        lam = self.dcl['lambda_clean']
        if self.dcl['batched']:
            loss_o, loss_m = self.batched_passes(inputs, data_samples)
        else:
            loss_o, logits = self.clean_pass(inputs, data_samples)
            loss_m = self.masked_pass(inputs, data_samples,
                                      self.soft_target(logits))
        return dict(loss_clean=lam * loss_o, loss_masked=(1 - lam) * loss_m)

    def batched_passes(self, inputs: Tensor,
                       data_samples: SampleList) -> Tuple[Tensor, Tensor]:
        """Unweighted ``(L_o, L_m)`` from one forward of batch 2B.

        Rows ``[:B]`` are the clean inputs, rows ``[B:]`` the masked ones
        (hidden patches, corrupted ids, the clean attention mask). Every
        layer of the network is per-sample (LayerNorm, GroupNorm,
        attention within a sample), so each half equals its own pass.
        """
        images, masked_ids, attention_mask = self.masked_inputs(
            inputs, data_samples)
        clean_ids = self.stack_text(data_samples, 'input_ids')
        logits = self.encode_decode_logits(
            torch.cat([inputs, images]),
            torch.cat([clean_ids, masked_ids]).to(inputs.device),
            torch.cat([attention_mask, attention_mask]).to(inputs.device))
        clean, masked = logits.split(inputs.shape[0])
        loss_o = self.gt_loss(clean, data_samples)
        loss_m = soft_cross_entropy(masked, self.soft_target(clean),
                                    self.dcl['class_weight'])
        return loss_o, loss_m

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[SampleList] = None,
                mode: str = 'tensor',
                **kwargs):
        """Add the two DCL modes used by the memory-saving train step.

        ``mode='dcl_clean'`` returns ``(lambda * L_o, clean logits)``;
        ``mode='dcl_masked'`` returns ``(1 - lambda) * L_m`` for the given
        ``soft_target``. They go through ``forward`` so that a DDP wrapper
        sees (and synchronises) both passes.
        """
        lam = self.dcl['lambda_clean']
        if mode == 'dcl_clean':
            loss_o, logits = self.clean_pass(inputs, data_samples)
            return lam * loss_o, logits
        if mode == 'dcl_masked':
            return (1 - lam) * self.masked_pass(inputs, data_samples,
                                                kwargs['soft_target'])
        return super().forward(inputs, data_samples, mode)

    # ------------------------------------------------------------------
    # training step
    # ------------------------------------------------------------------
    @property
    def two_backward(self) -> bool:
        """Whether ``train_step`` uses the memory-saving two-backward form."""
        return self.dcl['distill'] and self.dcl['memory_saving'] and \
            not self.dcl['batched']

    def train_step(self,
                   data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper,
                   model: Optional[torch.nn.Module] = None
                   ) -> Dict[str, Tensor]:
        """One MaskRIS iteration.

        Single-graph form: mmengine's default (``loss`` + ``update_params``).
        Memory-saving form: backward of the clean loss, then the masked
        forward/backward; the gradients accumulate and ``update_params``
        steps once. ``optim_wrapper.backward`` counts backward calls for
        gradient accumulation, so the first call is not counted: one
        iteration stays one count, and ``should_update``/``should_sync`` and
        the accumulation loss scaling behave as in the single-graph form.
        Under AMP both losses go through the same loss scaler; the overflow
        check and the scaler update happen once, in ``step``.

        Args:
            data: A batch from the data loader.
            optim_wrapper: The optimizer wrapper.
            model: The callable that runs ``forward`` (the DDP wrapper);
                defaults to ``self``.
        """
        if not self.two_backward:
            if model is None:
                return super().train_step(data, optim_wrapper)
            return model_train_step(model, self, data, optim_wrapper)
        model = self if model is None else model
        with optim_wrapper.optim_context(model):
            data = self.data_preprocessor(data, True)
        inputs, data_samples = data['inputs'], data['data_samples']

        # Clean pass. Its gradients stay local under DDP (no_sync); the
        # masked pass's backward all-reduces the accumulated sum once.
        no_sync = getattr(model, 'no_sync', nullcontext)
        with optim_wrapper.optim_context(model), no_sync():
            loss_clean, logits = model(
                inputs, data_samples, mode='dcl_clean')
        count = optim_wrapper._inner_count
        optim_wrapper.backward(optim_wrapper.scale_loss(loss_clean))
        optim_wrapper._inner_count = count
        target = self.soft_target(logits)
        del logits  # frees the clean graph before the masked forward

        with optim_wrapper.optim_context(model):
            loss_masked = model(
                inputs, data_samples, mode='dcl_masked', soft_target=target)
        _, log_vars = self.parse_losses(
            dict(loss_clean=loss_clean.detach(), loss_masked=loss_masked))
        optim_wrapper.update_params(loss_masked)
        return log_vars


def model_train_step(model: torch.nn.Module, module: torch.nn.Module,
                     data: Union[dict, tuple, list],
                     optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
    """mmengine's default train step with ``model`` as the forward callable
    (what ``MMDistributedDataParallel.train_step`` does)."""
    with optim_wrapper.optim_context(model):
        data = module.data_preprocessor(data, training=True)
        losses = model(**data, mode='loss')
    parsed_loss, log_vars = module.parse_losses(losses)
    optim_wrapper.update_params(parsed_loss)
    return log_vars


@MODEL_WRAPPERS.register_module()
class MaskRISDistributedDataParallel(CPUDistributedDataParallel):
    """DDP wrapper that lets :class:`MaskRISSegmentor` run its own step.

    mmengine's DDP wrapper performs one forward and one backward itself, so
    the segmentor's memory-saving form would never run. This wrapper hands
    the step to the segmentor, passing itself as the forward callable so
    DDP still synchronises the gradients. It drops ``device_ids`` on CPU
    (gloo) like its parent.
    """

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        if isinstance(self.module, MaskRISSegmentor):
            return self.module.train_step(data, optim_wrapper, model=self)
        return super().train_step(data, optim_wrapper)


# Runner.wrap_model looks wrappers up in mmengine's root registry, which
# cannot see mmris's (see mmris/engine/compat.py); register it there too.
ROOT_MODEL_WRAPPERS.register_module(module=MaskRISDistributedDataParallel)
