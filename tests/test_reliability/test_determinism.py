"""Same seed and config on the CPU: identical losses, iteration by
iteration (tiny MaskRIS: random patch/text masks, dropout, shuffling)."""
import torch
from mmengine.runner import Runner

ITERS = 20


def _train(cfg_fn, data_root, work_dir, seed=0):
    runner = Runner.from_cfg(cfg_fn(data_root, work_dir, ITERS, seed=seed))
    runner.train()
    return runner


def test_same_seed_same_losses(sample_data_root, tmp_path, maskris_iter_cfg,
                               read_losses, no_deterministic_leak):
    first = _train(maskris_iter_cfg, sample_data_root, tmp_path / 'a')
    assert torch.are_deterministic_algorithms_enabled()
    second = _train(maskris_iter_cfg, sample_data_root, tmp_path / 'b')
    losses_a = read_losses(tmp_path / 'a')
    losses_b = read_losses(tmp_path / 'b')
    assert sorted(losses_a) == list(range(1, ITERS + 1))
    assert losses_a == losses_b  # bit-identical floats
    for p, q in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(p, q)


def test_another_seed_other_losses(sample_data_root, tmp_path,
                                   maskris_iter_cfg, read_losses,
                                   no_deterministic_leak):
    cfg = maskris_iter_cfg(sample_data_root, tmp_path / 'c', 3, seed=1)
    Runner.from_cfg(cfg).train()
    other = read_losses(tmp_path / 'c')
    cfg = maskris_iter_cfg(sample_data_root, tmp_path / 'd', 3, seed=0)
    Runner.from_cfg(cfg).train()
    assert read_losses(tmp_path / 'd') != other
