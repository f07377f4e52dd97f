# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The web demo end to end in a real headless Chromium (selenium).

Starts ``demo/web_demo.py`` on a free local port with a tiny model, uploads
a query, a support and its mask, clicks *Segment*, waits for the result
image, checks it pixel for pixel against the API and saves a screenshot
(``$HSNET_SCREENSHOT_DIR`` or the test's tmp folder). Skips with the reason
when Gradio, selenium, Chromium or chromedriver is missing (``.ci/run``
installs Debian's ``chromium`` and ``chromium-driver``).
"""
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from tests.apis.episode_helpers import box_mask, image, tiny_files
from tests.helpers import REPO_ROOT

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMEDRIVER = shutil.which('chromedriver')
CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu',
                  '--disable-quic', '--no-first-run',
                  '--disable-background-networking',
                  '--disable-component-update', '--disable-sync',
                  '--disable-dev-shm-usage', '--window-size=1400,1800')
SERVER_START_S = 240
RESULT_S = 180


def _requirements():
    for module in ('gradio', 'selenium'):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(
                f'{module} is not installed (pip install -r '
                f'requirements/optional.txt -r requirements/tests.txt)')
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip('Chromium or chromedriver is absent (Debian: apt-get '
                    'install chromium chromium-driver; .ci/run does it)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f'web_demo.py exited with {proc.returncode}:\n'
                        f'{log.read()[-3000:]}')
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f'web_demo.py did not answer at {url} in {SERVER_START_S} s')


def _driver(profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f'--user-data-dir={profile}')
    driver = webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_web_demo_in_chromium(tmp_path):
    _requirements()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from hsnet_mm.apis import inference_episode, init_model
    from hsnet_mm.visualization.episode_drawer import PRED_COLOR, overlay_mask
    cfg, ckpt = tiny_files(tmp_path / 'model')
    query, support, mask = image(60, 80, 0), image(50, 50, 1), box_mask(50, 50)
    files = {}
    for name, arr in (('query', query), ('support', support), ('mask', mask)):
        files[name] = str(tmp_path / f'{name}.png')
        Image.fromarray(arr).save(files[name])
    port = _free_port()
    url = f'http://127.0.0.1:{port}/'
    env = dict(
        os.environ,
        GRADIO_ANALYTICS_ENABLED='False',
        OMP_NUM_THREADS='1',
        NO_PROXY='127.0.0.1,localhost')
    log = open(tmp_path / 'server.log', 'w+')
    server = subprocess.Popen([
        sys.executable, 'demo/web_demo.py', cfg, ckpt, '--port',
        str(port), '--examples-dir',
        str(tmp_path / 'examples')
    ],
                              cwd=REPO_ROOT,
                              env=env,
                              stdout=log,
                              stderr=subprocess.STDOUT)
    driver = None
    try:
        _wait_http(url, server, log)
        driver = _driver(str(tmp_path / 'chromium-profile'))
        driver.get(url)
        wait = WebDriverWait(driver, RESULT_S)
        inputs = {
            'query': '#query input[type=file]',
            'support': '#support-0 input[type=file]',
            'mask': '#mask-0 input[type=file]'
        }
        for name, css in inputs.items():
            field = wait.until(
                ec.presence_of_element_located((By.CSS_SELECTOR, css)))
            field.send_keys(files[name])
            time.sleep(1)  # let the upload finish before the next one
        wait.until(
            ec.presence_of_element_located(
                (By.CSS_SELECTOR, '#support-0 canvas')))
        time.sleep(2)
        driver.find_element(By.CSS_SELECTOR, '#run-button').click()
        result = wait.until(
            ec.presence_of_element_located((By.CSS_SELECTOR, '#result img')))
        src = result.get_attribute('src')
        with urllib.request.urlopen(src, timeout=30) as r:
            shown = np.asarray(Image.open(io.BytesIO(r.read())).convert('RGB'))
        summary = driver.find_element(By.CSS_SELECTOR, '#summary textarea')
        wait.until(lambda d: '1-shot' in summary.get_attribute('value'))
        shot_dir = os.environ.get('HSNET_SCREENSHOT_DIR', str(tmp_path))
        os.makedirs(shot_dir, exist_ok=True)
        assert driver.save_screenshot(os.path.join(shot_dir, 'web_demo.png'))
        model = init_model(cfg, ckpt)
        res = inference_episode(model, query, support, mask)
        pred = res.pred_sem_seg.data[0].numpy().astype(np.uint8)
        expected = overlay_mask(query, pred, PRED_COLOR, 0.5)
        assert shown.shape == query.shape
        np.testing.assert_array_equal(shown, expected)
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
        log.close()
    assert torch.is_tensor(res.pred_sem_seg.data)
