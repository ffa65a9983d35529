import subprocess
import sys

import torch

from mmris.registry import MODELS
from mmris.testing.models import tiny_model_cfg
from mmris.testing.tools import REPO, run_tool, tiny_model_options, tool_env
from mmris.utils import register_all_modules

TOOL = 'tools/model_converters/caris2mmris.py'
CONFIG = f'{REPO}/configs/maskris/refcoco.py'


def original_checkpoint(path):
    """A MaskRIS-style file: {'model': ...} with the original names."""
    register_all_modules()
    model = MODELS.build(tiny_model_cfg())
    state = {}
    for name, tensor in model.state_dict().items():
        if name.startswith('decode_head.'):
            name = 'pixel_decoder.' + name[len('decode_head.'):]
        state[name] = tensor
    state['backbone.vis_encoder.mask_token'] = torch.zeros(1, 1, 16)
    torch.save(dict(model=state, optimizer={}, epoch=49), path)
    return model


def test_converts_and_loads_strictly(tmp_path, sample_data_root):
    src, dst = tmp_path / 'maskris.pth', tmp_path / 'mmris.pth'
    model = original_checkpoint(src)
    log = run_tool([
        sys.executable, TOOL,
        str(src),
        str(dst), '--config', CONFIG, '--cfg-options',
        *tiny_model_options(sample_data_root)
    ])
    assert 'missing_keys: 0' in log and 'unexpected_keys: 0' in log
    assert "dropped: ['backbone.vis_encoder.mask_token']" in log
    converted = torch.load(dst, weights_only=False)['state_dict']
    assert converted.keys() == model.state_dict().keys()


def test_wrong_architecture_lists_the_mismatches(tmp_path, sample_data_root):
    src, dst = tmp_path / 'maskris.pth', tmp_path / 'mmris.pth'
    original_checkpoint(src)
    options = [
        o for o in tiny_model_options(sample_data_root)
        if not o.startswith('model.decode_head.num_layers')
    ] + ['model.decode_head.num_layers=3']
    proc = subprocess.run(
        [sys.executable, TOOL,
         str(src), str(dst), '--config', CONFIG, '--cfg-options', *options],
        cwd=REPO,
        env=tool_env(),
        capture_output=True,
        text=True)
    assert proc.returncode == 1
    assert 'decode_head.encoder.2.' in proc.stdout  # missing third layer
