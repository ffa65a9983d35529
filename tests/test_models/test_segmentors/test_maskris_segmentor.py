import math

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData

from mmris.registry import MODELS
from mmris.testing.models import fake_batch, tiny_model_cfg


def build(**dcl):
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg('MaskRISSegmentor', dcl=dcl))


def test_dcl_loss_equals_hand_computation(monkeypatch):
    """Fixed logits for the clean and the masked pass, GT of 2 pixels."""
    model = build()
    clean = torch.tensor([[[[2.0, 0.0]], [[0.0, 1.0]]]])  # [1, 2, 1, 2]
    masked = torch.tensor([[[[0.5, 0.0]], [[0.0, 0.0]]]])
    calls = []

    def fake_logits(inputs, input_ids, attention_mask):
        calls.append(input_ids.clone())
        return (clean if len(calls) == 1 else masked).clone()

    monkeypatch.setattr(model, 'encode_decode_logits', fake_logits)
    data = model.data_preprocessor(fake_batch(batch_size=1, size=64), True)
    sample = data['data_samples'][0]
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 1]]]))
    losses = model.loss(**data)

    def softmax(a, b):
        return math.exp(a) / (math.exp(a) + math.exp(b))

    # clean pass: weighted CE, weighted mean over pixels
    nll = [-math.log(softmax(2, 0)), -math.log(softmax(1, 0))]
    ce = (0.9 * nll[0] + 1.1 * nll[1]) / 2.0
    # masked pass: soft CE against softmax(clean), mean over pixels
    q = [(softmax(2, 0), softmax(0, 2)), (softmax(0, 1), softmax(1, 0))]
    p = [(softmax(0.5, 0), softmax(0, 0.5)), (0.5, 0.5)]
    soft = sum(-(0.9 * qq[0] * math.log(pp[0]) +
                 1.1 * qq[1] * math.log(pp[1]))
               for qq, pp in zip(q, p)) / 2
    assert losses['loss_clean'].item() == pytest.approx(0.5 * ce, rel=1e-6)
    assert losses['loss_masked'].item() == pytest.approx(0.5 * soft,
                                                         rel=1e-6)
    # the masked pass saw the corrupted ids, the clean pass the clean ones
    assert torch.equal(calls[0], sample.input_ids[None])
    assert torch.equal(calls[1], sample.masked_input_ids[None])


class GradRecorder(OptimWrapper):
    """Records the gradients at ``step`` instead of stepping."""

    def step(self, **kwargs):
        self.grads = {
            n: p.grad.clone()
            for n, p in self.model_ref.named_parameters()
            if p.grad is not None
        }


def grads_of_one_step(memory_saving: bool, seed: int = 0):
    model = build(memory_saving=memory_saving)
    model.eval()  # no dropout: both forms see the same network
    wrapper = GradRecorder(torch.optim.SGD(model.parameters(), lr=0.0))
    wrapper.model_ref = model
    log_vars = model.train_step(fake_batch(seed=seed), wrapper)
    return wrapper.grads, log_vars


def test_two_backward_and_single_graph_give_the_same_gradients():
    saving, log_saving = grads_of_one_step(True)
    single, log_single = grads_of_one_step(False)
    assert saving.keys() == single.keys() and len(saving) > 0
    for name in saving:
        torch.testing.assert_close(
            saving[name], single[name], atol=1e-6, rtol=1e-5, msg=name)
    for key in ('loss', 'loss_clean', 'loss_masked'):
        assert float(log_saving[key]) == pytest.approx(
            float(log_single[key]), rel=1e-6)


@pytest.mark.parametrize('dcl, keys', [
    (dict(image_masking=False), {'loss_clean', 'loss_masked'}),
    (dict(text_masking=False), {'loss_clean', 'loss_masked'}),
    (dict(distill=False), {'loss_masked'}),
    (dict(lambda_clean=0.25), {'loss_clean', 'loss_masked'}),
])
def test_ablation_switches(dcl, keys):
    model = build(**dcl)
    data = model.data_preprocessor(fake_batch(), True)
    losses = model.loss(**data)
    assert set(losses) == keys
    assert all(torch.isfinite(v) for v in losses.values())


def test_masked_images_are_zero_on_hidden_patches_only():
    model = build()
    data = model.data_preprocessor(fake_batch(batch_size=1, size=64), True)
    images = model.mask_images(data['inputs'], data['data_samples'])
    hidden = data['data_samples'][0].img_patch_mask
    for r in range(2):
        for c in range(2):
            block = images[0, :, 32 * r:32 * r + 32, 32 * c:32 * c + 32]
            original = data['inputs'][0, :, 32 * r:32 * r + 32,
                                      32 * c:32 * c + 32]
            if hidden[r, c]:
                assert block.abs().sum() == 0
            else:
                assert torch.equal(block, original)
    with pytest.raises(KeyError, match='dcl'):
        build(unknown=1)


def test_loss_falls_with_masking_on():
    """A short CPU run of the tiny MaskRIS model on a fixed batch: fresh
    patch masks and corrupted ids every step, as in training."""
    model = build()
    model.train()
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    batch = fake_batch(batch_size=2, size=64)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(12):
        for sample in batch['data_samples']:
            sample.img_patch_mask = torch.rand(
                sample.img_patch_mask.shape, generator=generator) < 0.75
            masked = sample.input_ids.clone()
            words = (masked > 0) & (masked != 101) & (masked != 102)
            hide = words & (torch.rand(masked.shape, generator=generator) <
                            0.15)
            sample.masked_input_ids = masked.masked_fill(hide, 103)
        log_vars = model.train_step(batch, wrapper)
        assert 'loss_masked' in log_vars
        losses.append(float(log_vars['loss']))
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3, losses
