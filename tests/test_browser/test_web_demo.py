"""demo/web_demo.py in a real browser: headless Chromium drives the page.

The server runs as a user starts it (``python demo/web_demo.py CONFIG
--weights CKPT --port P``) in a subprocess that is always stopped. The
tests are skipped when selenium, Chromium, chromedriver, fastapi or
uvicorn are missing (``make test-browser`` installs them and sets
``MMRIS_REQUIRE_BROWSER=1``, which turns the skip into a failure);
``CHROMIUM_BIN`` and ``CHROMEDRIVER`` override where they are found.

A screenshot of the page is kept in ``work_dirs/test_artifacts/``.
"""
import base64
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
import urllib.request

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmris.testing.tools import REPO, free_port, tool_env

ARTIFACTS = osp.join(REPO, 'work_dirs', 'test_artifacts')
BROWSERS = ('chromium', 'chromium-browser', 'google-chrome')
SERVER_START_S = 240
RESULT_WAIT_S = 120
SENTENCE = 'the red circle on the left'


def _find_executable(names, env_var):
    """An executable from ``env_var`` or the first of ``names`` on PATH."""
    if os.environ.get(env_var):
        return os.environ[env_var]
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def _missing(reason):
    """Skip, or fail under ``MMRIS_REQUIRE_BROWSER=1`` (make test-browser
    must not pass by skipping everything)."""
    if os.environ.get('MMRIS_REQUIRE_BROWSER') == '1':
        pytest.fail(reason)
    pytest.skip(reason)


def _skip_without_browser_stack():
    """``(chromium, chromedriver)``, or skip the test with the reason."""
    for module in ('selenium', 'fastapi', 'uvicorn', 'python_multipart'):
        if importlib.util.find_spec(module) is None:
            _missing(f'{module} is not installed (make test-browser)')
    browser = _find_executable(BROWSERS, 'CHROMIUM_BIN')
    driver = _find_executable(('chromedriver', ), 'CHROMEDRIVER')
    if browser is None or driver is None:
        _missing('chromium/chromedriver not found (make test-browser, or '
                 'apt-get install chromium chromium-driver)')
    return browser, driver


def _wait_for_server(url, proc, log_path, timeout):
    """Poll ``url`` until it answers; fail with the server log if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    with open(log_path, encoding='utf-8', errors='replace') as f:
        log = f.read()[-4000:]
    pytest.fail(f'web demo did not start (exit code {proc.poll()}):\n{log}')


def _stop(proc):
    """Terminate the server; kill it if it does not stop in 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope='module')
def browser_stack():
    return _skip_without_browser_stack()


@pytest.fixture(scope='module')
def server(browser_stack, tiny_model_files, examples_dir, tmp_path_factory):
    """The base URL of a running ``demo/web_demo.py``."""
    config, ckpt = tiny_model_files
    port = free_port()
    log_path = str(tmp_path_factory.mktemp('web_demo_server') / 'server.log')
    with open(log_path, 'w', encoding='utf-8') as log:
        proc = subprocess.Popen([
            sys.executable, 'demo/web_demo.py', config, '--weights', ckpt,
            '--host', '127.0.0.1', '--port',
            str(port), '--device', 'cpu', '--examples', examples_dir
        ],
                                cwd=REPO,
                                env=tool_env(),
                                stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        url = f'http://127.0.0.1:{port}/'
        _wait_for_server(url + 'health', proc, log_path, SERVER_START_S)
        yield url
    finally:
        _stop(proc)


@pytest.fixture(scope='module')
def driver(browser_stack):
    """A headless Chromium driven by chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    browser, chromedriver = browser_stack
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--disable-gpu', '--window-size=1280,900'):
        options.add_argument(arg)
    chrome = webdriver.Chrome(
        service=Service(executable_path=chromedriver), options=options)
    chrome.set_page_load_timeout(60)
    try:
        yield chrome
    finally:
        chrome.quit()


def _submit_and_wait(driver, sentences):
    """Type the sentences, press *Segment* and wait for the overlay."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    texts = driver.find_element(By.ID, 'texts')
    texts.clear()
    texts.send_keys('\n'.join(sentences))
    driver.find_element(By.ID, 'submit').click()
    result = driver.find_element(By.ID, 'result')
    WebDriverWait(driver, RESULT_WAIT_S).until(
        lambda d: result.get_attribute('data-state') in ('done', 'error'))
    status = driver.find_element(By.ID, 'status').text
    assert result.get_attribute('data-state') == 'done', status
    assert result.is_displayed()
    assert driver.execute_script(
        'return arguments[0].complete && arguments[0].naturalWidth', result)
    return result, driver.execute_script('return window.risResult')


def _decode_src(src):
    """The BGR image of the result's ``data:image/png`` source."""
    prefix = 'data:image/png;base64,'
    assert src.startswith(prefix), src[:40]
    data = np.frombuffer(base64.b64decode(src[len(prefix):]), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def _rle_mask(pred):
    rle = dict(pred['mask_rle'], counts=pred['mask_rle']['counts'].encode())
    return mask_utils.decode(rle)


def _text_region(image, sentence):
    """Where writing ``sentence`` alone changes ``image`` (its box)."""
    from mmris.visualization import draw_ris_result
    empty = np.zeros(image.shape[:2], np.uint8)
    drawn = draw_ris_result(image, [empty], [sentence])
    changed = (drawn != image).any(axis=2)
    region = np.zeros_like(changed)
    rows, cols = np.nonzero(changed)
    if rows.size:
        region[:rows.max() + 1, :cols.max() + 1] = True
    return region


def _save_screenshot(driver, tmp_path, name):
    path = str(tmp_path / name)
    assert driver.save_screenshot(path)
    os.makedirs(ARTIFACTS, exist_ok=True)
    shutil.copy(path, osp.join(ARTIFACTS, name))
    return path


@pytest.mark.timeout(600)
def test_upload_segment_and_show_overlay(server, driver, examples_dir,
                                         tmp_path):
    from selenium.webdriver.common.by import By
    driver.get(server)
    assert 'referring image segmentation' in driver.title
    image_path = osp.join(examples_dir, 'shapes.png')
    image = cv2.imread(image_path)
    driver.find_element(By.ID, 'image').send_keys(image_path)
    result, payload = _submit_and_wait(driver, [SENTENCE])

    overlay = _decode_src(result.get_attribute('src'))
    assert overlay.shape == image.shape
    (pred, ) = payload['predictions']
    assert pred['sentence'] == SENTENCE
    mask = _rle_mask(pred) > 0
    assert mask.shape == image.shape[:2]
    assert 0 < mask.sum() < mask.size, 'degenerate mask: weak test'
    # the overlay differs from the input exactly where the mask is, apart
    # from the mask outline (one pixel at this size) and the sentence box
    changed = (np.abs(overlay.astype(int) - image).max(axis=2) > 2)
    assert changed[mask].mean() > 0.99
    near = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3))) > 0
    outside = ~near & ~_text_region(image, SENTENCE)
    assert outside.sum() > 0.3 * mask.size
    assert changed[outside].mean() < 0.001
    # the page lists the sentence with its score
    rows = driver.find_elements(By.CSS_SELECTOR, '#scores tbody tr')
    assert len(rows) == 1 and SENTENCE in rows[0].text
    assert f'{pred["score"]:.3f}' in rows[0].text
    _save_screenshot(driver, tmp_path, 'web_demo.png')


@pytest.mark.timeout(600)
def test_example_with_two_sentences(server, driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    driver.get(server)
    WebDriverWait(driver, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, '#example option')) > 1)
    Select(driver.find_element(By.ID, 'example')).select_by_value('wide.jpg')
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        'const p = document.getElementById("preview");'
        'return !p.hidden && p.complete && p.naturalWidth === 200'))
    sentences = ['the red circle', 'the blue square']
    result, payload = _submit_and_wait(driver, sentences)
    assert [p['sentence'] for p in payload['predictions']] == sentences
    assert (payload['height'], payload['width']) == (90, 200)
    overlay = _decode_src(result.get_attribute('src'))
    assert overlay.shape == (90, 200, 3)
    rows = driver.find_elements(By.CSS_SELECTOR, '#scores tbody tr')
    assert [s in r.text for s, r in zip(sentences, rows)] == [True, True]
    colors = [p['color'] for p in payload['predictions']]
    assert len(set(colors)) == 2
    _save_screenshot(driver, tmp_path, 'web_demo_examples.png')
