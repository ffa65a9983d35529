import sys

from mmris.testing.tools import TINY_MODEL_CONFIG, run_tool


def test_get_flops_prints_parameters_and_flops():
    log = run_tool([
        sys.executable, 'tools/analysis_tools/get_flops.py',
        TINY_MODEL_CONFIG, '--shape', '64', '96'
    ])
    assert 'backbone.vis_encoder' in log and 'decode_head' in log
    assert 'input 64x96, 20 tokens:' in log and 'GFLOPs' in log
