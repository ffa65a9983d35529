"""Plot training curves (loss, learning rate, validation oIoU) as a PNG.

    python tools/analysis_tools/plot_curves.py work_dirs/maskris_tiny_shapes \\
        --out curves.png
    python tools/analysis_tools/plot_curves.py path/to/vis_data/scalars.json \\
        --out curves.png

A work dir is searched for ``<timestamp>/vis_data/scalars.json`` (what
mmengine's ``LocalVisBackend`` writes); the runs are read in time order, so
a resumed training continues its curve (a later record of the same step
replaces an earlier one). Training records are those with a ``loss``;
validation records are those with an ``oIoU`` key (``oIoU``,
``val/oIoU``, ``<dataset>/<split>/oIoU`` ...), at their epoch (``step``).
"""
import argparse
import glob
import json
import os.path as osp
from typing import Dict, List, Tuple

Series = Dict[str, Tuple[List[float], List[float]]]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot loss, lr and val oIoU from mmengine scalars')
    parser.add_argument(
        'src', help='work dir, a run dir or a scalars.json / log json')
    parser.add_argument('--out', default='curves.png', help='output PNG')
    parser.add_argument('--title', default=None, help='figure title')
    parser.add_argument(
        '--metric',
        default='oIoU',
        help='validation metric suffix to plot (default: oIoU; also mIoU)')
    return parser.parse_args(argv)


def find_scalar_files(src: str) -> List[str]:
    """The scalars files of ``src`` in run (time stamp) order."""
    if osp.isfile(src):
        return [src]
    if not osp.isdir(src):
        raise FileNotFoundError(f'{src} is neither a file nor a folder')
    patterns = ('vis_data/scalars.json', '*/vis_data/scalars.json',
                'scalars.json')
    files = sorted({f for p in patterns for f in glob.glob(osp.join(src, p))})
    if not files:
        raise FileNotFoundError(
            f'no vis_data/scalars.json under {src}; train with the '
            'LocalVisBackend (configs/_base_/default_runtime.py) first')
    return files


def read_records(files: List[str]) -> List[dict]:
    """All JSON lines of the files (blank or broken lines are skipped:
    a training that is still running may have a partial last line)."""
    records = []
    for path in files:
        with open(path, encoding='utf-8') as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return records


def _add(series: Series, key: str, x: float, y: float) -> None:
    xs, ys = series.setdefault(key, ([], []))
    if xs and x <= xs[-1]:  # a resumed run repeats steps: keep the last
        while xs and xs[-1] >= x:
            xs.pop()
            ys.pop()
    xs.append(x)
    ys.append(y)


def split_series(records: List[dict],
                 metric: str = 'oIoU') -> Tuple[Series, Series, Series]:
    """Loss curves, the lr curve and validation curves from the records.

    Returns:
        tuple: ``(losses, lrs, vals)``, each ``{name: (xs, ys)}``; train
        curves are over iterations, validation curves over ``step`` (the
        epoch, or the iteration for iteration-based training).
    """
    losses: Series = {}
    lrs: Series = {}
    vals: Series = {}
    for rec in records:
        if 'loss' in rec:
            x = rec.get('iter', rec.get('step'))
            for key, value in rec.items():
                if 'loss' in key and isinstance(value, (int, float)):
                    _add(losses, key, x, value)
                elif key == 'lr' or key.endswith('_lr') or \
                        key.endswith('/lr'):
                    _add(lrs, key, x, value)
            continue
        for key, value in rec.items():
            if key.split('/')[-1] == metric and isinstance(
                    value, (int, float)):
                _add(vals, key, rec.get('step'), value)
    return losses, lrs, vals


def plot(losses: Series,
         lrs: Series,
         vals: Series,
         out: str,
         title: str = None,
         metric: str = 'oIoU') -> str:
    """Three panels (loss, lr, validation metric) written to ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    panels = ((axes[0], losses, 'iteration',
               'loss'), (axes[1], lrs, 'iteration', 'learning rate'),
              (axes[2], vals, 'epoch (val step)', f'val {metric}'))
    for ax, series, xlabel, ylabel in panels:
        for name, (xs, ys) in sorted(series.items()):
            ax.plot(xs, ys, marker='o' if len(xs) < 30 else None, label=name)
        if series:
            ax.legend(fontsize=8)
        else:
            ax.text(
                0.5,
                0.5,
                f'no {ylabel} records',
                ha='center',
                va='center',
                transform=ax.transAxes)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    files = find_scalar_files(args.src)
    records = read_records(files)
    if not records:
        raise ValueError(f'no records in {files}')
    losses, lrs, vals = split_series(records, args.metric)
    title = args.title or osp.basename(osp.normpath(args.src))
    plot(losses, lrs, vals, args.out, title, args.metric)
    print(f'read {len(records)} records from {len(files)} file(s); wrote '
          f'{args.out}')


if __name__ == '__main__':
    main()
