"""tools/misc/browse_dataset.py saves image, mask overlay and sentence."""
import os
import os.path as osp

import numpy as np
from PIL import Image

from mmris.testing.tools import load_script

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'misc', 'browse_dataset.py')
CONFIG = osp.join(REPO, 'configs', '_base_', 'datasets',
                  'refer_refcocog_umd.py')


def _tool():
    return load_script(TOOL, 'browse_dataset')


def test_browse_pipeline_and_original(refer_data_root, tokenizer_path,
                                      tmp_path, capsys, mmris_scope):
    tool = _tool()
    out = str(tmp_path / 'pipe')
    tool.main([
        CONFIG, '--split', 'test', '--num', '2', '--output-dir', out,
        '--data-root', refer_data_root, '--tokenizer', tokenizer_path
    ])
    names = sorted(os.listdir(out))
    assert names == [
        '000000_refcocog_umd_val_ref5771_sent1975.png',
        '000001_refcocog_umd_val_ref5771_sent1976.png'
    ]
    picture = np.array(Image.open(osp.join(out, names[0])))
    assert picture.shape[1] == 448 and picture.shape[0] > 448  # + caption
    red = (picture[:448, :, 0].astype(int) - picture[:448, :, 1]) > 40
    assert 500 < red.sum() < 448 * 448 // 2  # the overlay of the mask
    assert 'a sweet foo in an orange bowl' in capsys.readouterr().out

    orig = str(tmp_path / 'orig')
    tool.main([
        CONFIG, '--split', 'train', '--original', '--num', '1', '--output-dir',
        orig, '--data-root', refer_data_root
    ])
    (name, ) = os.listdir(orig)
    assert name.startswith('000000_refcocog_umd_train_ref9093_sent')
    assert Image.open(osp.join(orig, name)).width == 640  # stored size
