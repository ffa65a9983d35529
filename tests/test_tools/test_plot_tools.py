"""plot_curves.py and show_predictions.py write their PNGs."""
import json
import os.path as osp
import pickle

import cv2
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmris.testing.inference import (save_random_checkpoint,
                                     write_tiny_ris_config)
from mmris.testing.tools import REPO, load_script

TOOLS = osp.join(REPO, 'tools', 'analysis_tools')


def _load(name):
    return load_script(osp.join(TOOLS, f'{name}.py'), name)


@pytest.fixture(scope='module')
def plot_curves():
    return _load('plot_curves')


@pytest.fixture(scope='module')
def show_predictions():
    return _load('show_predictions')


def _write_scalars(path, records):
    path.parent.mkdir(parents=True)
    with open(path, 'w') as f:
        for rec in records:
            f.write(json.dumps(rec) + '\n')
        f.write('{"loss": 0.1, "lr"')  # a run that is still writing


def _fake_work_dir(root):
    first = [
        dict(
            lr=1e-3 * (1 - i / 10),
            loss=1.0 / i,
            loss_ce=1.0 / i,
            iter=i,
            epoch=1 + i // 5,
            step=i) for i in range(1, 7)
    ] + [dict(oIoU=10.0, mIoU=11.0, step=1)]
    resumed = [
        dict(lr=5e-4, loss=0.2, loss_ce=0.2, iter=i, epoch=2, step=i)
        for i in range(5, 11)
    ] + [{
        'val/oIoU': 20.0,
        'step': 2
    }]
    _write_scalars(root / '20260101_000000' / 'vis_data' / 'scalars.json',
                   first)
    _write_scalars(root / '20260102_000000' / 'vis_data' / 'scalars.json',
                   resumed)
    return root


def test_plot_curves(plot_curves, tmp_path):
    work_dir = _fake_work_dir(tmp_path / 'work')
    files = plot_curves.find_scalar_files(str(work_dir))
    assert len(files) == 2
    losses, lrs, vals = plot_curves.split_series(
        plot_curves.read_records(files))
    xs, ys = losses['loss']
    assert xs == list(range(1, 11))  # the resumed run replaces iter 5, 6
    assert ys[4] == 0.2
    assert set(lrs) == {'lr'}
    assert vals['oIoU'] == ([1], [10.0]) and vals['val/oIoU'] == ([2], [20.0])
    out = str(tmp_path / 'curves.png')
    plot_curves.main([str(work_dir), '--out', out])
    assert cv2.imread(out).shape[1] > 500
    single = str(tmp_path / 'single.png')
    plot_curves.main([files[0], '--out', single])
    assert osp.isfile(single)


def test_plot_curves_missing(plot_curves, tmp_path):
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        plot_curves.find_scalar_files(str(tmp_path))


@pytest.fixture(scope='module')
def tiny_on_sample(sample_data_root, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('tiny_show'))
    config = write_tiny_ris_config(folder, data_root=sample_data_root)
    ckpt = save_random_checkpoint(config, osp.join(folder, 'tiny.pth'))
    return config, ckpt


def test_show_predictions_direct_run(show_predictions, tiny_on_sample,
                                     tmp_path):
    config, ckpt = tiny_on_sample
    out = str(tmp_path / 'grid.png')
    show_predictions.main([
        config, ckpt, '--split', 'val', '--num', '3', '--out', out,
        '--cell-size', '96', '--device', 'cpu'
    ])
    grid = cv2.imread(out)
    cap = show_predictions.CAPTION_H
    assert grid.shape == (cap + 3 * (cap + 96), 3 * 96, 3)


def test_show_predictions_from_pickle(show_predictions, tiny_on_sample,
                                      tmp_path):
    """The records of tools/test.py --out (DumpResults: data samples as
    dicts on the CPU)."""
    config, ckpt = tiny_on_sample
    args = show_predictions.parse_args(
        [config, ckpt, '--split', 'val', '--device', 'cpu'])
    cfg = show_predictions.load_config(args)
    from mmris.registry import DATASETS
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    model = show_predictions.build_model(cfg, ckpt, 'cpu')
    with torch.no_grad():
        samples = model.test_step(pseudo_collate([dataset[0], dataset[1]]))
    pkl = str(tmp_path / 'results.pkl')
    with open(pkl, 'wb') as f:
        pickle.dump([s.to_dict() for s in samples], f)
    out = str(tmp_path / 'grid_pkl.png')
    show_predictions.main(['--pkl', pkl, '--out', out, '--cell-size', '64'])
    cap = show_predictions.CAPTION_H
    assert cv2.imread(out).shape == (cap + 2 * (cap + 64), 3 * 64, 3)
