"""demo/image_demo.py: single image, several sentences, folder + JSON."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmris.testing.inference import (save_random_checkpoint,
                                     write_tiny_ris_config)
from mmris.testing.tools import REPO, load_script, run_tool, tool_env

DEMO = osp.join(REPO, 'demo', 'image_demo.py')


@pytest.fixture(scope='module')
def demo():
    return load_script(DEMO, 'image_demo')


@pytest.fixture(scope='module')
def tiny_files(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('tiny_demo'))
    config = write_tiny_ris_config(folder)
    ckpt = save_random_checkpoint(config, osp.join(folder, 'tiny.pth'))
    return config, ckpt


def _write_image(path, height, width, seed=0):
    rng = np.random.default_rng(seed)
    cv2.imwrite(
        str(path), rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    return str(path)


def _decode(record):
    rle = dict(record['segmentation'])
    rle['counts'] = rle['counts'].encode('utf-8')
    return mask_utils.decode(rle)


def test_single_image_cli(tiny_files, tmp_path):
    """The real command line: overlay, one mask per sentence, RLE JSON."""
    config, ckpt = tiny_files
    image = _write_image(tmp_path / 'img.jpg', 48, 80)
    out = tmp_path / 'res' / 'out.png'
    log = run_tool([
        sys.executable, DEMO, image, 'the left one', 'the big round thing',
        config, '--weights', ckpt, '--out-file',
        str(out), '--device', 'cpu'
    ],
                   timeout=120)
    assert 'the big round thing' in log
    overlay = cv2.imread(str(out))
    assert overlay.shape == (48, 80, 3)
    with open(tmp_path / 'res' / 'out.json') as f:
        records = json.load(f)
    assert [r['sentence']
            for r in records] == ['the left one', 'the big round thing']
    for j, record in enumerate(records):
        mask = cv2.imread(str(tmp_path / 'res' / f'out_mask{j}.png'), 0)
        assert mask.shape == (48, 80) and set(np.unique(mask)) <= {0, 255}
        np.testing.assert_array_equal(_decode(record) * 255, mask)


def test_positionals(demo):
    args = demo.parse_args([
        'a.jpg', 'one', 'two words', 'cfg.py', '--weights', 'w.pth',
        '--out-file', 'o.png'
    ])
    assert (args.image, args.sentences, args.config) == \
        ('a.jpg', ['one', 'two words'], 'cfg.py')


@pytest.mark.parametrize('argv,message', [
    (['a.jpg', 'one', 'cfg.py', '--out-file', 'o.png'], 'no checkpoint'),
    (['a.jpg', 'one', 'notconfig', '--weights', 'w', '--out-file', 'o.png'
      ], 'last positional'),
    (['a.jpg', 'cfg.py', '--weights', 'w', '--out-file', 'o.png'
      ], 'no sentence'),
])
def test_refusals_exit_2(demo, capsys, argv, message):
    with pytest.raises(SystemExit) as err:
        demo.parse_args(argv)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


def test_random_weights_refused_by_cli(tmp_path):
    proc = subprocess.run(
        [sys.executable, DEMO, 'x.jpg', 'a', 'c.py', '--out-file', 'o.png'],
        cwd=REPO,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=60)
    assert proc.returncode == 2
    assert '--allow-random-weights' in proc.stderr


def test_folder_with_json(demo, tiny_files, tmp_path):
    config, ckpt = tiny_files
    folder = tmp_path / 'images'
    folder.mkdir()
    _write_image(folder / 'a.png', 40, 60)
    _write_image(folder / 'b.jpg', 25, 35, seed=1)
    _write_image(folder / 'unused.png', 10, 10)
    texts = tmp_path / 'sentences.json'
    texts.write_text(json.dumps({'a.png': ['left', 'right'], 'b.jpg': 'x'}))
    out_dir = tmp_path / 'out'
    assert demo.main([
        str(folder), '--texts-json',
        str(texts), config, '--weights', ckpt, '--out-dir',
        str(out_dir), '--device', 'cpu'
    ]) == 0
    with open(out_dir / 'predictions.json') as f:
        records = json.load(f)
    assert [(r['image'], r['sentence']) for r in records] == [('a', 'left'),
                                                              ('a', 'right'),
                                                              ('b', 'x')]
    assert records[2]['size'] == [25, 35]
    for name, size in (('a', (40, 60)), ('b', (25, 35))):
        assert cv2.imread(str(out_dir / 'vis' / f'{name}.png')).shape[:2] \
            == size
    assert sorted(p.name for p in (out_dir / 'masks').iterdir()) == [
        'a_0.png', 'a_1.png', 'b_0.png'
    ]


def test_folder_json_names_missing_image(demo, tiny_files, tmp_path):
    config, ckpt = tiny_files
    (tmp_path / 'imgs').mkdir()
    texts = tmp_path / 's.json'
    texts.write_text(json.dumps({'nope.jpg': 'x'}))
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        demo.main([
            str(tmp_path / 'imgs'), '--texts-json',
            str(texts), config, '--weights', ckpt, '--out-dir',
            str(tmp_path / 'o')
        ])
