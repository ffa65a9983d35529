"""Fixtures of the web demo tests: a tiny random-weight model, an example
image folder and ``demo/web_demo.py`` loaded as a module."""
import os.path as osp

import cv2
import numpy as np
import pytest

from mmris.testing.tools import REPO, load_script

WEB_DEMO = osp.join(REPO, 'demo', 'web_demo.py')


def _draw_shapes(height: int = 120, width: int = 160) -> np.ndarray:
    """A grey BGR picture with a red circle and a blue square."""
    image = np.full((height, width, 3), 200, np.uint8)
    cv2.circle(image, (width * 5 // 16, height // 2), height // 4,
               (40, 40, 220), -1)
    cv2.rectangle(image, (width * 19 // 32, height // 4),
                  (width * 29 // 32, height * 3 // 4), (220, 120, 30), -1)
    return image


@pytest.fixture(scope='session')
def draw_shapes():
    """``draw_shapes(height=120, width=160)``: the example picture."""
    return _draw_shapes


@pytest.fixture(scope='session')
def tiny_model_files(tmp_path_factory):
    """``(config, checkpoint)`` of a random-weight tiny CARIS."""
    from mmris.testing.inference import (save_random_checkpoint,
                                         write_tiny_ris_config)
    folder = str(tmp_path_factory.mktemp('web_demo_model'))
    config = write_tiny_ris_config(folder)
    return config, save_random_checkpoint(config, osp.join(folder, 'w.pth'))


@pytest.fixture(scope='session')
def examples_dir(tmp_path_factory):
    """A folder with ``shapes.png`` (120x160) and ``wide.jpg`` (90x200)."""
    folder = tmp_path_factory.mktemp('web_demo_examples')
    cv2.imwrite(str(folder / 'shapes.png'), _draw_shapes())
    cv2.imwrite(str(folder / 'wide.jpg'), _draw_shapes(90, 200))
    (folder / 'notes.txt').write_text('not an image')
    return str(folder)


@pytest.fixture(scope='session')
def web_demo():
    """``demo/web_demo.py`` imported as a module (demo/ is no package)."""
    return load_script(WEB_DEMO, 'mmris_web_demo')
