"""Throughput, latency, memory, data-pipeline speed and FLOPs of a RIS model.

    python tools/analysis_tools/benchmark.py CONFIG --mode train \
        [--batch-size 2] [--shape 448] [--iters 10] [--warmup 2] \
        [--fast none|sdpa|channels_last|compile|batched_dcl|checkpoint|
                fused_adamw|bf16|all|all_bf16] \
        [--compare] [--variant-options ...] [--no-dropout] \
        [--no-pretrained] [--cfg-options ...] \
        [--out results.jsonl] [--device cpu|cuda] \
        [--count-flops] [--peak-tflops P]

Modes:

* ``train``: images/s of full training steps (``model.train_step`` with an
  AdamW ``OptimWrapper``; MaskRIS runs both passes) on synthetic batches
  (:func:`mmris.testing.models.fake_batch`), the loss after the last step
  and the peak memory: ``torch.cuda.max_memory_allocated`` on CUDA; on CPU
  the growth of the process's peak resident set (``ru_maxrss`` after the
  steps minus the resident set before the first step; it includes the
  optimizer state and allocator slack, and being a process high-water
  mark it is only meaningful for one model per process). With
  ``--count-flops`` (implied on CUDA and by ``--peak-tflops``) one more
  step runs under ``torch.utils.flop_counter`` (forward and backward, both
  MaskRIS passes, the optimizer not counted) and the record gets
  ``train_gflops`` per step, ``achieved_tflops`` (= FLOPs / median step
  time) and, when the peak is known, ``mfu`` = achieved / peak. Peaks of a
  few GPUs are built in (:data:`PEAK_TFLOPS`, dense datasheet figures);
  give any other as ``--peak-tflops``.
* ``infer``: latency and images/s of ``mode='tensor'`` forwards (no grad,
  eval mode) at each ``--batch-size`` (default 1 and 16).
* ``data``: samples/s of the train dataset's pipeline run in this process
  (= one data-loader worker) on the config's real data root, plus the
  time per transform.
* ``flops``: parameters and FLOPs (``tools/analysis_tools/get_flops.py``).

``--compare`` (train, infer) builds the plain model and the ``--fast`` one
from the same seed and times them in alternating rounds in one process, so
that the ratio stays meaningful on a loaded machine: ``speedup`` is the
median over the rounds of the plain / fast time (memory is then not
reported). The first steps of a model are slow (allocator and kernel
warm-up): give ``--warmup`` 3 or more. ``--variant-options KEY=VALUE ...``
(train) times the config against a variant of it the same way, e.g. a
smaller decoder (``model.decode_head.num_layers=2``); the two networks
differ, so each has its own initialisation and ``speedup`` (config /
variant time) is the only figure that compares them. Each measurement is
printed as a table row and appended to ``--out`` as one JSON line with
the machine description.

Fast paths (:data:`FAST_PATHS`): ``sdpa`` (fused attention in Swin, the
decoder and BERT: config keys), ``checkpoint`` (activation checkpointing of
the Swin blocks, the BERT layers and the decoder's SVLA layers, ``with_cp``:
memory saving), ``batched_dcl`` (MaskRIS's two
passes as one 2B forward, ``model.dcl.batched``), ``channels_last`` and
``compile`` (runtime), ``fused_adamw`` (torch's one-kernel AdamW; in a
training config ``optim_wrapper.optimizer.fused=True``), ``bf16`` (the
forward under bf16 autocast, the training step through
:class:`~mmris.engine.optimizers.AutocastOptimWrapper`; fp32 weights and
optimizer; fast where the hardware computes bf16: a GPU, or a CPU with
AMX or AVX512-BF16; not exact, so its loss is compared with a bf16
tolerance), ``all`` = sdpa + batched_dcl + channels_last + fused_adamw
(all exact to fp32 tolerance), ``all_bf16`` = ``all`` + bf16.
"""
import argparse
import copy
import importlib.util
import json
import os
import os.path as osp
import platform
import resource
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config, DictAction

HERE = osp.dirname(osp.abspath(__file__))
MODES = ('train', 'infer', 'data', 'flops')
# config-level switches: key path under ``model`` -> value
CONFIG_SWITCHES = {
    'sdpa': {
        'backbone.vis_encoder.use_sdpa': True,
        'decode_head.use_sdpa': True,
        'backbone.lang_encoder.attn_implementation': 'sdpa',
    },
    # the memory-saving option: activation checkpointing of the Swin
    # blocks, the BERT layers and the decoder's SVLA layers
    'checkpoint': {
        'backbone.vis_encoder.with_cp': True,
        'backbone.lang_encoder.with_cp': True,
        'decode_head.with_cp': True,
    },
    'batched_dcl': {
        'dcl.batched': True
    },
}
RUNTIME_SWITCHES = ('channels_last', 'compile')
# the fast paths that keep fp32 results (``all``)
EXACT_FAST = ('sdpa', 'batched_dcl', 'channels_last', 'fused_adamw')
FAST_PATHS = {
    'none': (),
    'sdpa': ('sdpa', ),
    'channels_last': ('channels_last', ),
    'compile': ('compile', ),
    'batched_dcl': ('batched_dcl', ),
    'checkpoint': ('checkpoint', ),
    # torch's one-kernel AdamW; config key optim_wrapper.optimizer.fused
    'fused_adamw': ('fused_adamw', ),
    # autocast of the forward (training config: optim_wrapper type
    # AmpOptimWrapper with dtype='bfloat16'; see mmris.engine.compat)
    'bf16': ('bf16', ),
    'all': EXACT_FAST,
    'all_bf16': EXACT_FAST + ('bf16', ),
}


# dense peak TFLOP/s from the datasheets: (GPU name part, dtype) -> peak;
# bf16/fp16 on tensor cores, fp32 without TF32 (torch's default for
# matmuls). SXM figures; PCIe cards are slower: pass --peak-tflops.
PEAK_TFLOPS = {
    ('H200', 'bf16'): 989.0,
    ('H100', 'bf16'): 989.0,
    ('A100', 'bf16'): 312.0,
    ('H200', 'fp32'): 67.0,
    ('H100', 'fp32'): 67.0,
    ('A100', 'fp32'): 19.5,
}


def positive_float(text: str) -> float:
    """argparse type of ``--peak-tflops``: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a positive number of TFLOP/s')
    return value


def parse_args(argv=None):
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Benchmark a RIS model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--mode', choices=MODES, default='train')
    parser.add_argument(
        '--batch-size',
        type=int,
        nargs='+',
        default=None,
        help='train: one size (default 2); infer: one or '
        'more (default 1 16)')
    parser.add_argument(
        '--shape',
        type=int,
        default=448,
        help='square input size (multiple of 32)')
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--fast', choices=list(FAST_PATHS), default='none')
    parser.add_argument(
        '--compare',
        action='store_true',
        help='time plain and --fast interleaved')
    parser.add_argument(
        '--variant-options',
        nargs='+',
        action=DictAction,
        help='train: time the config with these extra options (e.g. '
        'model.decode_head.num_layers=2) against the config as given, '
        'interleaved; both with --fast')
    parser.add_argument(
        '--rounds',
        type=int,
        default=3,
        help='alternating rounds with --compare')
    parser.add_argument(
        '--no-dropout',
        action='store_true',
        help='dropout and drop-path off (train), for '
        'comparing losses across fast paths')
    parser.add_argument(
        '--compile-backend',
        default='inductor',
        help='torch.compile backend of --fast compile')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--tokens', type=int, default=20)
    parser.add_argument(
        '--no-pretrained',
        action='store_true',
        help='random weights, nothing downloaded')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--out', help='append JSON lines here')
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    parser.add_argument(
        '--peak-tflops',
        type=positive_float,
        default=None,
        help='train: the device\'s peak TFLOP/s for the step\'s dtype, '
        'for the model FLOP utilisation (known GPUs are looked up)')
    parser.add_argument(
        '--count-flops',
        action='store_true',
        help='train: count the FLOPs of one more training step and report '
        'the achieved TFLOP/s (implied by --peak-tflops and on CUDA)')
    args = parser.parse_args(argv)
    if args.variant_options and args.mode != 'train':
        parser.error('--variant-options times training steps: use it with '
                     f'--mode train, not --mode {args.mode}')
    return args


# ----------------------------------------------------------------------
# machine and output
# ----------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else platform's guess."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# Whether this process runs with tools/train.py's CPU allocator setting
# (mmris/utils/malloc.py); set when the script is run, not when imported.
MALLOC_TUNED = False


def machine_info(device: str) -> dict:
    """What the figures were measured on."""
    from mmris.engine.optimizers import cpu_has_native_bf16
    info = dict(
        cpu=cpu_model(),
        cores=os.cpu_count(),
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        device=device,
        load=os.getloadavg()[0] if hasattr(os, 'getloadavg') else None,
        cpu_native_bf16=cpu_has_native_bf16(),
        malloc_tuned=MALLOC_TUNED)
    if device == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def emit(record: dict, out: Optional[str]) -> None:
    """Print one table row and append the JSON line to ``out``."""
    keys = ('mode', 'fast', 'variant', 'shape', 'batch', 'images_per_s',
            'samples_per_s', 'achieved_tflops', 'mfu',
            'latency_ms', 'peak_mem_mb', 'loss', 'gflops', 'speedup', 'error')
    cells = [f'{k}={_fmt(record[k])}' for k in keys if k in record]
    print(' | '.join(cells), flush=True)
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'a', encoding='utf-8') as f:
            f.write(json.dumps(record) + '\n')


def _fmt(value) -> str:
    return f'{value:.4g}' if isinstance(value, float) else str(value)


# ----------------------------------------------------------------------
# config and model
# ----------------------------------------------------------------------
def load_config(args) -> Config:
    """The config with ``--cfg-options`` and the path keys applied."""
    from mmris.utils import register_all_modules
    from mmris.utils.config_paths import apply_config_paths
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    apply_config_paths(cfg)
    if args.no_pretrained and 'model' in cfg:
        get_flops_module().strip_pretrained(cfg.model)
    return cfg


def get_flops_module():
    """``tools/analysis_tools/get_flops.py`` as a module."""
    spec = importlib.util.spec_from_file_location(
        'mmris_get_flops', osp.join(HERE, 'get_flops.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def apply_fast_config(model_cfg, fast: str) -> None:
    """Set the config-level switches of ``fast`` in a model config.

    ``all`` skips ``batched_dcl`` on a segmentor other than MaskRIS.
    """
    is_maskris = model_cfg.get('type') == 'MaskRISSegmentor'
    for part in FAST_PATHS[fast]:
        if part == 'batched_dcl' and not is_maskris:
            if fast.startswith('all'):
                continue  # nothing to batch in a one-pass segmentor
            raise ValueError('batched_dcl needs a MaskRISSegmentor model, '
                             f'got {model_cfg.get("type")}')
        for path, value in CONFIG_SWITCHES.get(part, {}).items():
            _set_path(model_cfg, path, value)


def _set_path(node, path: str, value) -> None:
    keys = path.split('.')
    for key in keys[:-1]:
        if node.get(key) is None:
            node[key] = dict()
        node = node[key]
    node[keys[-1]] = value


def disable_dropout(model: torch.nn.Module) -> None:
    """Dropout and drop-path probabilities to 0 (in train mode too)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if hasattr(module, 'drop_prob'):
            module.drop_prob = 0.0
    for module in model.modules():
        config = getattr(module, 'config', None)
        if config is not None and hasattr(config,
                                          'attention_probs_dropout_prob'):
            config.attention_probs_dropout_prob = 0.0


def to_channels_last(module, args, output):
    """Forward hook of the data preprocessor: NHWC-strided images."""
    output['inputs'] = output['inputs'].contiguous(
        memory_format=torch.channels_last)
    return output


def build_model(cfg: Config,
                fast: str,
                device: str,
                seed: int,
                no_dropout: bool = False,
                compile_backend: str = 'inductor') -> torch.nn.Module:
    """The config's model with the switches of ``fast``, seeded init.

    ``compile`` wraps ``encode_decode_logits`` (the whole network, both
    passes of MaskRIS) in ``torch.compile(backend=compile_backend)``.
    """
    from mmris.registry import MODELS
    model_cfg = cfg.model.copy()
    apply_fast_config(model_cfg, fast)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg).to(device)
    if no_dropout:
        disable_dropout(model)
    parts = FAST_PATHS[fast]
    if 'channels_last' in parts:
        model.to(memory_format=torch.channels_last)
        model.data_preprocessor.register_forward_hook(to_channels_last)
    if 'compile' in parts:
        model.encode_decode_logits = torch.compile(
            model.encode_decode_logits, backend=compile_backend)
    return model


def clone_weights(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """Same weights in both models (the fast switches do not rename)."""
    dst.load_state_dict(src.state_dict())


# ----------------------------------------------------------------------
# timing helpers
# ----------------------------------------------------------------------
def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], iters: int, device: str) -> float:
    """Seconds per call of ``fn`` over ``iters`` calls."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / max(iters, 1)


def current_rss_mb() -> float:
    """Resident set now (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open('/proc/self/statm', encoding='utf-8') as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf('SC_PAGE_SIZE') / 2**20
    except (OSError, ValueError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """The process's peak resident set (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == 'darwin' else peak / 1024


class MemoryProbe:
    """Peak memory of what runs between ``start`` and ``stop``."""

    def __init__(self, device: str):
        self.device = device

    def start(self) -> None:
        if self.device == 'cuda':
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated() / 2**20
        else:
            self.base = current_rss_mb()

    def stop(self) -> dict:
        if self.device == 'cuda':
            peak = torch.cuda.max_memory_allocated() / 2**20
            return dict(peak_mem_mb=peak, mem_method='cuda_max_allocated')
        return dict(
            peak_mem_mb=peak_rss_mb() - self.base,
            mem_method='cpu_peak_rss_delta')


# ----------------------------------------------------------------------
# train
# ----------------------------------------------------------------------
def make_trainer(model: torch.nn.Module,
                 batch: dict,
                 fused: bool = False,
                 bf16: bool = False):
    """A closure running one ``train_step``; returns the total loss.

    ``fused`` selects torch's single-kernel AdamW (``fused=True``, CPU and
    CUDA), the ``fused_adamw`` fast path; ``bf16`` trains through
    :class:`~mmris.engine.optimizers.AutocastOptimWrapper` (bf16 autocast).
    """
    from mmengine.optim import OptimWrapper

    from mmris.engine.optimizers import AutocastOptimWrapper
    model.train()
    adamw = torch.optim.AdamW(
        model.parameters(), lr=1e-4, weight_decay=0.01, fused=fused)
    optim = AutocastOptimWrapper(adamw) if bf16 else OptimWrapper(adamw)

    def step() -> float:
        log_vars = model.train_step(batch, optim)
        return float(torch.as_tensor(log_vars['loss']).detach())

    return step


def train_batch(args, batch_size: int) -> dict:
    from mmris.testing.models import fake_batch
    return fake_batch(
        batch_size=batch_size,
        size=args.shape,
        length=args.tokens,
        seed=args.seed)


def train_arms(args, cfg: Config) -> List[Tuple[Config, str]]:
    """(config, fast path) of each model to time: the config alone, the
    plain and ``--fast`` models (``--compare``), or the config and its
    ``--variant-options`` variant."""
    if args.variant_options:
        variant = copy.deepcopy(cfg)
        variant.merge_from_dict(args.variant_options)
        return [(cfg, args.fast), (variant, args.fast)]
    if args.compare:
        return [(cfg, 'none'), (cfg, args.fast)]
    return [(cfg, args.fast)]


def bench_train(args, cfg: Config, base: dict) -> List[dict]:
    """Images/s, final loss and peak memory of training steps."""
    batch_size = (args.batch_size or [2])[0]
    batch = train_batch(args, batch_size)
    arms = train_arms(args, cfg)
    fasts = [fast for _, fast in arms]
    models = [
        build_model(c, f, args.device, args.seed, args.no_dropout,
                    args.compile_backend) for c, f in arms
    ]
    if not args.variant_options:  # same network: the same initial weights
        for other in models[1:]:
            clone_weights(models[0], other)
    steps = [
        make_trainer(
            m,
            batch,
            fused='fused_adamw' in FAST_PATHS[f],
            bf16='bf16' in FAST_PATHS[f]) for m, f in zip(models, fasts)
    ]
    probe = MemoryProbe(args.device)
    probe.start()
    losses = [[step() for _ in range(args.warmup)] for step in steps]
    seconds = [[] for _ in steps]
    interleaved = len(steps) > 1
    rounds = args.rounds if interleaved else 1
    per_round = max(1, args.iters // rounds)
    for _ in range(rounds):
        for i, step in enumerate(steps):
            start = time.perf_counter()
            for _ in range(per_round):
                losses[i].append(step())
            synchronize(args.device)
            seconds[i].append((time.perf_counter() - start) / per_round)
    memory = probe.stop()
    records = []
    for fast, secs, loss in zip(fasts, seconds, losses):
        sec = statistics.median(secs)
        record = dict(
            base,
            fast=fast,
            batch=batch_size,
            steps=len(loss),
            sec_per_iter=sec,
            round_sec=secs,
            images_per_s=batch_size / sec,
            loss=loss[-1],
            losses=loss)
        if not interleaved:
            record.update(memory)
        records.append(record)
    if interleaved:
        records[1]['speedup'] = round_speedup(seconds[0], seconds[1])
    if args.variant_options:
        records[1]['variant'] = dict(args.variant_options)
    elif interleaved:
        records[1]['loss_diff'] = abs(records[1]['loss'] - records[0]['loss'])
    if args.count_flops or args.peak_tflops or args.device == 'cuda':
        for record, step, fast in zip(records, steps, fasts):
            record.update(
                utilisation(count_step_flops(step), record['sec_per_iter'],
                            peak_tflops(args, fast)))
    return records


def count_step_flops(step: Callable[[], float]) -> int:
    """FLOPs of one training step (forward and backward) as counted by
    ``torch.utils.flop_counter`` (matrix products, convolutions and
    attention; element-wise work is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def peak_tflops(args, fast: str) -> Optional[float]:
    """``--peak-tflops``, else the built-in figure of this GPU and dtype."""
    if args.peak_tflops:
        return args.peak_tflops
    if args.device != 'cuda':
        return None
    dtype = 'bf16' if 'bf16' in FAST_PATHS[fast] else 'fp32'
    name = torch.cuda.get_device_name(0)
    for (part, kind), peak in PEAK_TFLOPS.items():
        if part in name and kind == dtype:
            return peak
    return None


def utilisation(flops: int, sec_per_iter: float,
                peak: Optional[float]) -> dict:
    """Achieved TFLOP/s of a step and, with a peak, the MFU."""
    achieved = flops / sec_per_iter / 1e12
    result = dict(train_gflops=flops / 1e9, achieved_tflops=achieved)
    if peak:
        result.update(peak_tflops=peak, mfu=achieved / peak)
    return result


def round_speedup(plain: List[float], fast: List[float]) -> float:
    """Median over the rounds of plain time / fast time: each ratio
    compares two neighbouring windows, so a load change on a shared
    machine moves both sides."""
    return statistics.median(p / f for p, f in zip(plain, fast))


# ----------------------------------------------------------------------
# infer
# ----------------------------------------------------------------------
def make_predictor(model: torch.nn.Module, batch: dict, bf16: bool = False):
    """A closure running one no-grad ``mode='tensor'`` forward (under bf16
    autocast with ``bf16``)."""
    model.eval()
    data = model.data_preprocessor(batch, False)
    device = next(model.parameters()).device.type

    def forward():
        with torch.no_grad(), torch.autocast(
                device, dtype=torch.bfloat16, enabled=bf16):
            return model(**data, mode='tensor')

    return forward


def bench_infer(args, cfg: Config, base: dict) -> List[dict]:
    """Latency and images/s at each batch size."""
    from mmris.testing.models import fake_batch
    fasts = ['none', args.fast] if args.compare else [args.fast]
    models = [
        build_model(
            cfg,
            f,
            args.device,
            args.seed,
            compile_backend=args.compile_backend) for f in fasts
    ]
    for other in models[1:]:
        clone_weights(models[0], other)
    records = []
    for batch_size in args.batch_size or [1, 16]:
        batch = fake_batch(
            batch_size=batch_size,
            size=args.shape,
            length=args.tokens,
            seed=args.seed)
        runs = [
            make_predictor(m, batch, bf16='bf16' in FAST_PATHS[f])
            for m, f in zip(models, fasts)
        ]
        for run in runs:
            timed(run, args.warmup, args.device)
        seconds = [[] for _ in runs]
        rounds = args.rounds if args.compare else 1
        for _ in range(rounds):
            for i, run in enumerate(runs):
                seconds[i].append(
                    timed(run, max(1, args.iters // rounds), args.device))
        rows = []
        for fast, secs in zip(fasts, seconds):
            sec = statistics.median(secs)
            rows.append(
                dict(
                    base,
                    fast=fast,
                    batch=batch_size,
                    latency_ms=sec * 1e3,
                    round_sec=secs,
                    images_per_s=batch_size / sec))
        if args.compare:
            rows[1]['speedup'] = round_speedup(*seconds)
        records += rows
    return records


# ----------------------------------------------------------------------
# data
# ----------------------------------------------------------------------
def bench_data(args, cfg: Config, base: dict) -> List[dict]:
    """Samples/s of the train pipeline in this process (one worker)."""
    import numpy as np
    from mmengine.registry import DefaultScope

    from mmris.registry import DATASETS
    np.random.seed(args.seed)
    with DefaultScope.overwrite_default_scope('mmris'):
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        transforms = dataset.pipeline.transforms
        spent = {type(t).__name__: 0.0 for t in transforms}
        total = args.warmup + args.iters
        start = None
        for i in range(total):
            if i == args.warmup:
                spent = dict.fromkeys(spent, 0.0)
                start = time.perf_counter()
            run_pipeline(dataset, i % len(dataset), transforms, spent)
        elapsed = time.perf_counter() - (start or time.perf_counter())
    samples = args.iters
    return [
        dict(
            base,
            fast='none',
            batch=1,
            samples=samples,
            dataset_len=len(dataset),
            samples_per_s=samples / elapsed,
            ms_per_transform={
                k: v / samples * 1e3
                for k, v in spent.items()
            },
            cache=cache_stats(transforms))
    ]


def cache_stats(transforms) -> Dict[str, dict]:
    """Hits and misses of the per-ref caches that are switched on."""
    stats = {}
    for transform in transforms:
        cache = getattr(transform, 'cache', None)
        if cache is not None and getattr(cache, 'enabled', False):
            stats[type(transform).__name__] = cache.stats()
    return stats


def run_pipeline(dataset, index: int, transforms, spent: Dict[str, float]):
    """What ``dataset[index]`` does, timing each transform."""
    results = dataset.get_data_info(index)
    for transform in transforms:
        start = time.perf_counter()
        results = transform(results)
        spent[type(transform).__name__] += time.perf_counter() - start
    return results


# ----------------------------------------------------------------------
# flops
# ----------------------------------------------------------------------
def bench_flops(args, cfg: Config, base: dict) -> List[dict]:
    """Parameters and FLOPs through get_flops.py's counting."""
    flops = get_flops_module()
    model = build_model(cfg, args.fast, 'cpu', args.seed).eval()
    image, samples = flops.dummy_inputs(args.shape, args.shape, args.tokens)
    total, _ = flops.flops_by_module(model, image, samples)
    params = flops.parameter_table(model)
    return [
        dict(
            base,
            batch=1,
            tokens=args.tokens,
            gflops=total / 1e9,
            params=params['total'])
    ]


RUNNERS = dict(
    train=bench_train, infer=bench_infer, data=bench_data, flops=bench_flops)


def main(argv=None) -> List[dict]:
    """Run one mode; return (and print / append) its records."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    cfg = load_config(args)
    base = dict(
        machine=machine_info(args.device),
        config=args.config,
        mode=args.mode,
        fast=args.fast,
        shape=args.shape,
        time=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
    try:
        records = RUNNERS[args.mode](args, cfg, base)
    except Exception as exc:  # noqa: BLE001 (e.g. compile on this stack)
        if args.fast != 'compile':
            raise
        records = [
            dict(
                base,
                error=f'{type(exc).__name__}: '
                f'{str(exc).splitlines()[0][:300]}')
        ]
    for record in records:
        emit(record, args.out)
    return records


if __name__ == '__main__':
    from mmris.utils.malloc import tune_cpu_malloc
    MALLOC_TUNED = tune_cpu_malloc()  # a no-op where CUDA is available
    main()
