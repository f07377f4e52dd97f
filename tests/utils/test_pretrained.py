# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The pretrained weights' check before training (hsnet_mm.utils.pretrained).

No test reaches the network: a failed download is a patched one, a real
one comes from a loopback server.
"""
import hashlib
import urllib.error
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from hsnet_mm.utils import (PretrainedWeightsHook, UserError, build_runner,
                            call_cli, check_pretrained_weights,
                            hub_checkpoint_path, one_line)
from hsnet_mm.utils import pretrained as pretrained_module
from hsnet_mm.utils import pretrained_urls, runner_setup
from tests.helpers import REPO_ROOT
from tests.http_server import serve_folder

R50 = 'https://download.pytorch.org/models/resnet50-0676ba61.pth'


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty ``$TORCH_HOME`` (and no ``torch.hub.set_dir`` in force)."""
    home = tmp_path / 'torch_home'
    monkeypatch.setenv('TORCH_HOME', str(home))
    monkeypatch.setattr(torch.hub, '_hub_dir', None, raising=False)
    return home


def model_cfg(*checkpoints: str) -> dict:
    return dict(
        model=dict(
            type='HSNet',
            backbone=dict(
                type='FeatureTapBackbone',
                backbone=dict(
                    type='X',
                    init_cfg=[
                        dict(type='Pretrained', checkpoint=c)
                        for c in checkpoints
                    ])),
            decode_head=dict(init_cfg=dict(type='Normal', std=0.01))))


def test_pretrained_urls_of_a_shipped_config():
    cfg = Config.fromfile(
        str(REPO_ROOT / 'configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py'))
    assert pretrained_urls(cfg) == [R50]
    synthetic = Config.fromfile(
        str(REPO_ROOT / 'configs/hsnet/hsnet_r18_synthetic_1shot.py'))
    assert pretrained_urls(synthetic) == []  # trained from scratch


def test_pretrained_urls_walks_nested_lists_once():
    cfg = model_cfg(R50, 'work_dirs/local.pth', R50,
                    'http://example.org/b.pth')
    # a local file is mmengine's business, a repeat is one URL
    assert pretrained_urls(cfg) == [R50, 'http://example.org/b.pth']
    assert pretrained_urls(cfg['model']) == pretrained_urls(cfg)


def test_hub_checkpoint_path_is_torch_hub_cache(torch_home):
    assert hub_checkpoint_path(R50) == str(torch_home / 'hub' / 'checkpoints' /
                                           'resnet50-0676ba61.pth')
    assert hub_checkpoint_path(R50 + '?x=1').endswith('resnet50-0676ba61.pth')


def test_a_failed_download_names_the_url_and_the_path(torch_home, monkeypatch):

    def no_network(url, dst, *args, **kwargs):
        raise urllib.error.URLError('[Errno -3] Temporary failure in name '
                                    'resolution')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_network)
    dst = torch_home / 'hub' / 'checkpoints' / 'resnet50-0676ba61.pth'
    with pytest.raises(UserError) as info:
        check_pretrained_weights(model_cfg(R50))
    line = one_line(info.value)
    assert R50 in line and str(dst) in line and 'URLError' in line
    assert 'fetch_weights.py' in line
    assert '\n' not in str(info.value)
    assert not dst.exists()

    # through the tools' error boundary: one line, exit code 2
    def main():
        check_pretrained_weights(model_cfg(R50))

    assert call_cli(main, prog='train.py') == 2


def test_a_file_in_the_cache_passes_without_download(torch_home, monkeypatch):

    def must_not_download(*args, **kwargs):
        raise AssertionError('downloaded although the file is there')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', must_not_download)
    dst = torch_home / 'hub' / 'checkpoints' / 'resnet50-0676ba61.pth'
    dst.parent.mkdir(parents=True)
    torch.save({'conv1.weight': torch.zeros(1)}, dst)
    assert check_pretrained_weights(model_cfg(R50)) == [str(dst)]
    assert check_pretrained_weights(model_cfg()) == []


def test_check_only_refuses_a_missing_file(torch_home):
    with pytest.raises(UserError, match='put the file at .*resnet50'):
        check_pretrained_weights(model_cfg(R50), download=False)


def test_a_missing_file_is_downloaded_into_the_cache(torch_home, tmp_path):
    served = tmp_path / 'served'
    served.mkdir()
    payload = b'weights' * 1000
    name = f'resnet-{hashlib.sha256(payload).hexdigest()[:8]}.pth'
    (served / name).write_bytes(payload)
    with serve_folder(served) as base:
        paths = check_pretrained_weights(
            model_cfg(f'{base}/{name}'), progress=False)
        assert paths == [str(torch_home / 'hub' / 'checkpoints' / name)]
        assert Path(paths[0]).read_bytes() == payload
        with pytest.raises(UserError, match='HTTP Error 404'):
            check_pretrained_weights(
                model_cfg(f'{base}/absent.pth'), progress=False)
    leftovers = list((torch_home / 'hub' / 'checkpoints').iterdir())
    assert [p.name for p in leftovers] == [name]  # no partial file


def test_a_training_runner_checks_before_loading_the_weights(
        torch_home, monkeypatch):
    monkeypatch.setattr(
        torch.hub, 'download_url_to_file', lambda *a, **k:
        (_ for _ in ()).throw(urllib.error.URLError('down')))

    class FakeRunner:
        logger = 'current'

        def __init__(self):
            self.hooks = []

        def register_hook(self, hook, priority=None):
            self.hooks.append(hook)

    monkeypatch.setattr(runner_setup.Runner, 'from_cfg',
                        lambda cfg: FakeRunner())
    cfg = Config(model_cfg(R50))
    assert build_runner(cfg).hooks == []  # testing loads no ImageNet weights
    hooks = build_runner(cfg, for_training=True).hooks
    assert [type(h) for h in hooks] == [PretrainedWeightsHook]
    assert hooks[0].priority == 'HIGHEST'
    with pytest.raises(UserError, match='resnet50-0676ba61'):
        hooks[0].before_run(FakeRunner())  # Runner.train, before the weights


def test_the_download_has_a_socket_timeout(torch_home, monkeypatch):
    seen = []

    def record(url, dst, *args, **kwargs):
        seen.append(pretrained_module.socket.getdefaulttimeout())
        raise urllib.error.URLError('timed out')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', record)
    with pytest.raises(UserError):
        check_pretrained_weights(model_cfg(R50))
    assert seen == [30.]
    assert pretrained_module.socket.getdefaulttimeout() is None
