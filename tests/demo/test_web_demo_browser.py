# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The web demo through a real server on a free loopback port.

``test_server_refusals_and_cleanup`` (HTTP and Gradio's client): files of
``--examples-dir`` are not served nor overwritten, an upload over
``--max-file-size`` is refused, a non-image is refused by name, and
nothing is left in the temporary folder after the server stops.

``test_web_demo_in_chromium`` (a real headless Chromium, selenium): uploads
a query, a support and its mask, clicks *Segment*, checks the result pixel
for pixel against the API, adds the query as a support, segments again
(2 shots) and saves a screenshot (``$HSNET_SCREENSHOT_DIR`` or the test's
tmp folder). Skips with the reason when Gradio, selenium, Chromium or
chromedriver is missing (``.ci/run`` installs Debian's ``chromium`` and
``chromium-driver``).
"""
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from tests.apis.episode_helpers import box_mask, image, tiny_files
from tests.demo.demo_loader import load_demo
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


def _requirements(*modules):
    for module in ('gradio', *modules):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(
                f'{module} is not installed (pip install -r '
                f'requirements/optional.txt -r requirements/tests.txt)')
    if 'selenium' in modules and (CHROMIUM is None or CHROMEDRIVER is None):
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


def _start(tmp_path, cfg: str, ckpt: str, *extra: str):
    """The demo on a free port with ``TMPDIR`` in ``tmp_path/tmp``;
    (process, url, log)."""
    port = _free_port()
    url = f'http://127.0.0.1:{port}/'
    (tmp_path / 'tmp').mkdir()
    env = dict(
        os.environ,
        GRADIO_ANALYTICS_ENABLED='False',
        OMP_NUM_THREADS='1',
        TMPDIR=str(tmp_path / 'tmp'),
        NO_PROXY='127.0.0.1,localhost')
    log = open(tmp_path / 'server.log', 'w+')
    server = subprocess.Popen([
        sys.executable, 'demo/web_demo.py', cfg, ckpt, '--port',
        str(port), *extra
    ],
                              cwd=REPO_ROOT,
                              env=env,
                              stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        _wait_http(url, server, log)
    except BaseException:
        _stop(server, log)
        raise
    return server, url, log


def _stop(server: subprocess.Popen, log) -> int:
    """SIGTERM (the demo's cleanup runs), then its exit code."""
    server.terminate()
    try:
        code = server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        code = server.wait(timeout=30)
    log.close()
    return code


def _status(url: str, data: bytes = None, headers: dict = None) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _upload(url: str, name: str, content: bytes) -> int:
    boundary = 'hsnet-test-boundary'
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="{name}"\r\nContent-Type: application/octet-stream'
        f'\r\n\r\n').encode() + content + f'\r\n--{boundary}--\r\n'.encode()
    return _status(
        url + 'gradio_api/upload', body,
        {'Content-Type': f'multipart/form-data; boundary={boundary}'})


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_server_refusals_and_cleanup(tmp_path):
    _requirements('gradio_client')
    from gradio_client import Client, handle_file
    cfg, ckpt = tiny_files(tmp_path / 'model')
    examples = tmp_path / 'examples'
    load_demo('make_examples').write_examples(str(examples))
    mine = examples / 'episode0_query0.png'
    Image.fromarray(image(40, 50, 7)).save(mine)  # the user's own file
    (examples / 'secret.txt').write_text('secret')
    (examples / 'sub').mkdir()
    (examples / 'sub' / 'key.pem').write_text('key')
    before = {p: p.read_bytes() for p in examples.rglob('*') if p.is_file()}
    (tmp_path / 'junk.png').write_text('not an image')
    server, url, log = _start(tmp_path, cfg, ckpt, '--examples-dir',
                              str(examples), '--max-file-size', '64kb')
    try:
        for path in ('secret.txt', 'sub/key.pem', 'episode0_query0.png'):
            status = _status(f'{url}gradio_api/file={examples / path}')
            assert status in (403, 404), (path, status)
        assert _upload(url, 'big.bin', os.urandom(100 * 1024)) == 413
        client = Client(url, verbose=False)
        with pytest.raises(Exception) as info:
            client.predict(
                handle_file(str(tmp_path / 'junk.png')),
                *[None] * 10,
                0.5,
                api_name='/run')
        message = str(info.value)
        assert 'query: the file is not an image' in message, message
        assert str(tmp_path) not in message, message
    finally:
        code = _stop(server, log)
    assert code == 0, (tmp_path / 'server.log').read_text()[-3000:]
    assert list((tmp_path / 'tmp').iterdir()) == []
    after = {p: p.read_bytes() for p in examples.rglob('*') if p.is_file()}
    assert after == before


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_web_demo_in_chromium(tmp_path):
    _requirements('selenium')
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from hsnet_mm.apis import inference_episode, init_model
    from hsnet_mm.visualization.episode_drawer import PRED_COLOR, overlay_mask
    cfg, ckpt = tiny_files(tmp_path / 'model', seed=2)
    # (seed 2: a prediction of some pixels, so the mask round trip through
    # the editor's canvas is checked pixel for pixel)
    query, support, mask = image(60, 80, 2), image(50, 50, 1), box_mask(50, 50)
    files = {}
    for name, arr in (('query', query), ('support', support), ('mask', mask)):
        files[name] = str(tmp_path / f'{name}.png')
        Image.fromarray(arr).save(files[name])
    server, url, log = _start(tmp_path, cfg, ckpt)
    driver = None
    try:
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
        summary = driver.find_element(By.CSS_SELECTOR, '#summary textarea')
        wait.until(lambda d: '1-shot' in summary.get_attribute('value'))
        shown = _shown(driver)
        model = init_model(cfg, ckpt)
        res = inference_episode(model, query, support, mask)
        pred = res.pred_sem_seg.data[0].numpy().astype(np.uint8)
        assert 0 < pred.mean() < 1
        np.testing.assert_array_equal(
            shown, overlay_mask(query, pred, PRED_COLOR, 0.5))
        # the review loop: the query with its prediction becomes support 2
        driver.find_element(By.CSS_SELECTOR, '#add-button').click()
        message = driver.find_element(By.CSS_SELECTOR, '#add-message textarea')
        wait.until(lambda d: 'support 2' in message.get_attribute('value'))
        wait.until(
            ec.visibility_of_element_located(
                (By.CSS_SELECTOR, '#support-1 canvas')))
        time.sleep(2)
        shot_dir = os.environ.get('HSNET_SCREENSHOT_DIR', str(tmp_path))
        os.makedirs(shot_dir, exist_ok=True)
        assert driver.save_screenshot(
            os.path.join(shot_dir, 'web_demo_added.png'))
        driver.find_element(By.CSS_SELECTOR, '#run-button').click()
        wait.until(lambda d: '2-shot' in summary.get_attribute('value'))
        assert '(supports 1, 2)' in summary.get_attribute('value')
        assert driver.save_screenshot(os.path.join(shot_dir, 'web_demo.png'))
        res2 = inference_episode(model, query, [support, query], [mask, pred])
        pred2 = res2.pred_sem_seg.data[0].numpy().astype(np.uint8)
        np.testing.assert_array_equal(
            _shown(driver), overlay_mask(query, pred2, PRED_COLOR, 0.5))
    finally:
        if driver is not None:
            driver.quit()
        code = _stop(server, log)
    assert code == 0
    assert list((tmp_path / 'tmp').iterdir()) == []


def _shown(driver) -> np.ndarray:
    """The prediction image the page shows, as served."""
    src = driver.find_element('css selector',
                              '#result img').get_attribute('src')
    with urllib.request.urlopen(src, timeout=30) as r:
        return np.asarray(Image.open(io.BytesIO(r.read())).convert('RGB'))
