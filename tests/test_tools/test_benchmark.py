"""tools/analysis_tools/benchmark.py: every mode runs on the tiny config
and appends valid JSON lines (run in-process to keep the test short)."""
import json
import os.path as osp

import pytest

from mmris.testing.tools import (MINILM_VOCAB, REPO, TINY_MODEL_CONFIG,
                                 load_script)

DATA_CONFIG = osp.join(REPO, 'configs', '_base_', 'datasets',
                       'refer_refcoco.py')
MACHINE_KEYS = {'cpu', 'cores', 'torch', 'device'}


@pytest.fixture(scope='module')
def benchmark():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark.py')
    return load_script(path, 'mmris_benchmark')


def read_lines(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f]


def check_common(record, mode, fast='none'):
    assert MACHINE_KEYS <= set(record['machine'])
    assert record['mode'] == mode and record['fast'] == fast
    assert record['config'] and 'shape' in record and 'batch' in record


def train_compare(benchmark, out, fast, iters, rounds, maskris=True):
    """Interleaved plain/``fast`` training on the tiny model at 64 px,
    dropout off; returns the two records."""
    argv = [
        TINY_MODEL_CONFIG, '--mode', 'train', '--shape', '64', '--iters',
        str(iters), '--warmup', '0', '--rounds',
        str(rounds), '--fast', fast, '--compare', '--no-dropout', '--out', out
    ]
    if maskris:
        argv += ['--cfg-options', 'model.type=MaskRISSegmentor']
    benchmark.main(argv)
    return read_lines(out)


def test_train_compare_batched_dcl(benchmark, tmp_path):
    out = str(tmp_path / 'r.jsonl')
    plain, fast = train_compare(benchmark, out, 'batched_dcl', 2, 2)
    check_common(plain, 'train')
    check_common(fast, 'train', 'batched_dcl')
    assert plain['steps'] == fast['steps'] == 2
    assert fast['speedup'] > 0 and plain['images_per_s'] > 0
    # same init, same batch, no dropout: the same training trajectory
    assert fast['loss_diff'] < 1e-4


def test_train_reports_peak_memory(benchmark, tmp_path):
    out = str(tmp_path / 'r.jsonl')
    benchmark.main([
        TINY_MODEL_CONFIG, '--mode', 'train', '--shape', '64', '--iters', '1',
        '--warmup', '0', '--fast', 'checkpoint', '--out', out
    ])
    (record, ) = read_lines(out)
    check_common(record, 'train', 'checkpoint')
    assert record['mem_method'] == 'cpu_peak_rss_delta'
    assert record['peak_mem_mb'] >= 0


def test_infer_two_batch_sizes(benchmark, tmp_path):
    out = str(tmp_path / 'r.jsonl')
    benchmark.main([
        TINY_MODEL_CONFIG, '--mode', 'infer', '--shape', '64', '--batch-size',
        '1', '2', '--iters', '1', '--warmup', '0', '--fast', 'sdpa', '--out',
        out
    ])
    records = read_lines(out)
    assert [r['batch'] for r in records] == [1, 2]
    for record in records:
        check_common(record, 'infer', 'sdpa')
        assert record['latency_ms'] > 0 and record['images_per_s'] > 0


def test_data_on_the_real_annotation_sample(benchmark, tmp_path,
                                            refer_data_root):
    out = str(tmp_path / 'r.jsonl')
    benchmark.main([
        DATA_CONFIG, '--mode', 'data', '--iters', '3', '--warmup', '1',
        '--out', out, '--cfg-options', f'data_root={refer_data_root}',
        f'bert_path={MINILM_VOCAB}'
    ])
    (record, ) = read_lines(out)
    check_common(record, 'data')
    assert record['samples_per_s'] > 0 and record['dataset_len'] > 0
    assert set(record['ms_per_transform']) >= {'LoadRefImage', 'Resize'}
    assert record['cache'] == {}  # the per-ref caches are off by default


def test_data_reports_cache_hits(benchmark, tmp_path, refer_data_root):
    out = str(tmp_path / 'r.jsonl')
    benchmark.main([
        DATA_CONFIG, '--mode', 'data', '--iters', '4', '--warmup', '2',
        '--out', out, '--cfg-options', f'data_root={refer_data_root}',
        f'bert_path={MINILM_VOCAB}',
        'train_dataloader.dataset.pipeline.1.cache_mb=8',
        'train_dataloader.dataset.pipeline.3.cache_size=100'
    ])
    (record, ) = read_lines(out)
    stats = record['cache']
    assert set(stats) == {'LoadRefMask', 'BertTokenize'}
    # 6 samples over a 2-item train split: every item after the first epoch
    # is a hit (the sentence of an item is drawn at random, so only the
    # mask count is exact)
    assert record['dataset_len'] == 2
    assert stats['LoadRefMask']['misses'] == 2
    assert stats['LoadRefMask']['hits'] == 4
    assert stats['BertTokenize']['hits'] + \
        stats['BertTokenize']['misses'] == 6


def test_flops(benchmark, tmp_path, capsys):
    out = str(tmp_path / 'r.jsonl')
    benchmark.main(
        [TINY_MODEL_CONFIG, '--mode', 'flops', '--shape', '64', '--out', out])
    (record, ) = read_lines(out)
    check_common(record, 'flops')
    assert record['gflops'] > 0 and record['params'] > 0
    assert 'gflops=' in capsys.readouterr().out


def test_train_compare_fused_adamw(benchmark, tmp_path):
    out = str(tmp_path / 'r.jsonl')
    plain, fast = train_compare(
        benchmark, out, 'fused_adamw', 3, 1, maskris=False)
    check_common(fast, 'train', 'fused_adamw')
    # torch's fused AdamW follows the plain one to float rounding
    assert fast['loss_diff'] < 1e-4


def test_train_and_infer_compare_all_bf16(benchmark, tmp_path):
    """all_bf16 = the exact fast paths + bf16 autocast: its losses follow
    the plain path's to bf16 precision, and inference runs too."""
    out = str(tmp_path / 'r.jsonl')
    plain, fast = train_compare(benchmark, out, 'all_bf16', 2, 1)
    check_common(fast, 'train', 'all_bf16')
    assert isinstance(fast['machine']['cpu_native_bf16'], bool)
    assert 0 < fast['loss_diff'] <= 2e-2 * plain['loss']
    benchmark.main([
        TINY_MODEL_CONFIG, '--mode', 'infer', '--shape', '64', '--iters', '1',
        '--warmup', '0', '--batch-size', '2', '--fast', 'bf16', '--out', out
    ])
    check_common(read_lines(out)[-1], 'infer', 'bf16')


def test_train_flops_and_mfu(benchmark, tmp_path):
    """The counted training FLOPs are about 3x the forward's per image
    (forward + backward), twice that for MaskRIS's two passes, and the MFU
    is achieved / peak."""
    out = str(tmp_path / 'r.jsonl')
    common = [
        TINY_MODEL_CONFIG, '--mode', 'train', '--shape', '64', '--iters', '1',
        '--warmup', '0', '--batch-size', '2', '--out', out
    ]
    benchmark.main(common + ['--count-flops'])
    benchmark.main(common + [
        '--peak-tflops', '2.0', '--cfg-options', 'model.type=MaskRISSegmentor'
    ])
    benchmark.main(
        [TINY_MODEL_CONFIG, '--mode', 'flops', '--shape', '64', '--out', out])
    caris, maskris, flops = read_lines(out)
    assert 'mfu' not in caris and caris['achieved_tflops'] > 0
    per_image = caris['train_gflops'] / 2 / flops['gflops']
    assert 2.5 < per_image < 3.5
    assert maskris['train_gflops'] == pytest.approx(
        2 * caris['train_gflops'], rel=0.05)
    assert maskris['mfu'] == pytest.approx(
        maskris['achieved_tflops'] / 2.0)
    assert maskris['achieved_tflops'] == pytest.approx(
        maskris['train_gflops'] / 1e3 / maskris['sec_per_iter'])


@pytest.mark.parametrize('peak', ['0', '-5', 'fast'])
def test_peak_tflops_must_be_positive(benchmark, peak, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args([TINY_MODEL_CONFIG, '--peak-tflops', peak])
    assert 'not a positive number of TFLOP/s' in capsys.readouterr().err


def test_train_compare_config_variant(benchmark, tmp_path):
    """--variant-options times a second network built from the config with
    extra options; the record names the variant."""
    out = str(tmp_path / 'r.jsonl')
    benchmark.main([
        TINY_MODEL_CONFIG, '--mode', 'train', '--shape', '64', '--iters', '2',
        '--warmup', '0', '--rounds', '2', '--out', out, '--variant-options',
        'model.decode_head.num_layers=1'
    ])
    config, variant = read_lines(out)
    check_common(config, 'train')
    check_common(variant, 'train')
    assert 'variant' not in config
    assert variant['variant'] == {'model.decode_head.num_layers': 1}
    assert config['steps'] == variant['steps'] == 2
    assert len(config['round_sec']) == len(variant['round_sec']) == 2
    assert variant['speedup'] > 0 and 'loss_diff' not in variant


def test_variant_options_only_in_train_mode(benchmark, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args([
            TINY_MODEL_CONFIG, '--mode', 'infer', '--variant-options',
            'model.decode_head.num_layers=1'
        ])
    assert '--variant-options times training steps' in \
        capsys.readouterr().err
