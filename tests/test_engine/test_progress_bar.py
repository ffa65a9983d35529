import logging

import pytest

from mmris.engine.hooks import ProgressBarHook
from mmris.engine.hooks.progress_bar import format_seconds, progress_line


def test_format_seconds():
    assert format_seconds(0) == '0:00'
    assert format_seconds(75) == '1:15'
    assert format_seconds(3725) == '1:02:05'
    assert format_seconds(-3) == '0:00'


def test_progress_line_percent_counts_and_eta():
    line = progress_line('train', 25, 100, elapsed=50.0, width=8)
    assert line == 'train [##......]  25.0% 25/100 elapsed 0:50 ETA 2:30'
    done = progress_line('val', 10, 10, elapsed=3.0, width=4)
    assert '[####] 100.0% 10/10' in done and done.endswith('ETA 0:00')


class FakeRunner:

    def __init__(self, max_iters):
        self.iter = 0
        self.max_iters = max_iters
        self.logger = logging.getLogger('progress-bar-test')


def test_hook_logs_every_interval_and_at_the_end(caplog):
    runner = FakeRunner(max_iters=7)
    hook = ProgressBarHook(interval=3)
    hook.before_train(runner)
    with caplog.at_level(logging.INFO, logger='progress-bar-test'):
        for step in range(7):
            runner.iter = step
            hook.after_train_iter(runner, step)
    counts = [rec.getMessage().split()[3] for rec in caplog.records]
    assert counts == ['3/7', '6/7', '7/7']


def test_interval_must_be_positive():
    with pytest.raises(ValueError):
        ProgressBarHook(interval=0)
