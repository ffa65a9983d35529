"""Helpers for tests that run the command-line tools as a user would."""
import os
import os.path as osp
import socket
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# seconds-long text-blind model on the real-annotation sample
SMOKE_CONFIG = osp.join(REPO, 'configs', 'demo',
                        'textblind_fcn_refer-sample.py')


def data_root_options(data_root):
    """--cfg-options pointing every dataloader at ``data_root``."""
    return [
        f'{split}_dataloader.dataset.data_root={data_root}'
        for split in ('train', 'val', 'test')
    ]


def tool_env():
    """The venv's python first on PATH, the repo importable, offline HF."""
    env = dict(os.environ)
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env.update(
        HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', OMP_NUM_THREADS='1')
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_tool(args, timeout=600, env=None):
    """Run a command in the repo root; fail with its output if it fails."""
    proc = subprocess.run(
        args,
        cwd=REPO,
        env=env or tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    assert proc.returncode == 0, f'{" ".join(map(str, args))} failed:\n' + \
        proc.stdout[-6000:]
    return proc.stdout
