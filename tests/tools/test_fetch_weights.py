# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/offline/fetch_weights.py, and tools/train.py on a node that can
download no pretrained weights. No test reaches the network: downloads
come from a loopback server or fail against a closed loopback port."""
import hashlib
import importlib.util
import re
from pathlib import Path

import pytest

from tests.http_server import serve_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'offline' / 'fetch_weights.py'
R50_CONFIG = 'configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py'
#: mmseg's warning about build_loss whenever a model is built, and the like
WARNING = re.compile(r'^\S+:\d+: \w*Warning: .*\n(  .*\n)?', re.M)


@pytest.fixture(scope='module')
def fetch_weights():
    spec = importlib.util.spec_from_file_location('fetch_weights', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pretrained_config(folder: Path, url: str, base: str = R50_CONFIG) -> Path:
    path = folder / 'pretrained_cfg.py'
    path.write_text(f"_base_ = ['{REPO_ROOT / base}']\n"
                    'model = dict(backbone=dict(init_cfg=dict('
                    f"type='Pretrained', checkpoint='{url}')))\n")
    return path


def test_list_names_the_urls_and_the_hub_cache(run_tool, ok, tmp_path):
    out = ok(
        run_tool([str(TOOL), R50_CONFIG, '--list'],
                 env=dict(TORCH_HOME=str(tmp_path))))
    assert out.strip() == (
        'https://download.pytorch.org/models/resnet50-0676ba61.pth -> '
        f'{tmp_path}/hub/checkpoints/resnet50-0676ba61.pth (missing)')


def test_all_configs_list_every_backbone_once(fetch_weights, capsys,
                                              monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    assert fetch_weights.main(['--all', '--list']) == 0
    names = sorted(
        re.findall(r'/([^/ ]+\.pth) \(missing\)',
                   capsys.readouterr().out))
    assert names == [
        'mit_b2_20220624-66e8bf70.pth', 'resnet101-63fe2227.pth',
        'resnet50-0676ba61.pth',
        'swin_tiny_patch4_window7_224_20220317-1cdeb081.pth',
        'vgg16-397923af.pth'
    ]


def test_download_into_a_folder_to_carry(fetch_weights, capsys, tmp_path):
    served = tmp_path / 'served'
    served.mkdir()
    payload = b'imagenet' * 4096
    digest = hashlib.sha256(payload).hexdigest()
    (served / f'resnet-{digest[:8]}.pth').write_bytes(payload)
    (served / 'other-deadbeef.pth').write_bytes(payload)  # a wrong name
    dest = tmp_path / 'wheelhouse' / 'weights'
    with serve_folder(served) as base:
        for name in (f'resnet-{digest[:8]}.pth', 'other-deadbeef.pth'):
            config = pretrained_config(tmp_path, f'{base}/{name}')
            assert fetch_weights.main([str(config), '--dest', str(dest)]) == 0
    out = capsys.readouterr().out
    assert (dest / f'resnet-{digest[:8]}.pth').read_bytes() == payload
    assert f'sha256 {digest}\n' in out
    assert 'the name says deadbeef' in out
    assert (dest / 'SHA256SUMS').read_text() == (
        f'{digest}  other-deadbeef.pth\n{digest}  resnet-{digest[:8]}.pth\n')
    # a second run keeps the file and downloads nothing (no server now)
    assert fetch_weights.main([str(config), '--dest', str(dest)]) == 0
    assert 'there already' in capsys.readouterr().out


def test_a_failed_download_is_one_line(run_tool, port, tmp_path):
    url = f'http://127.0.0.1:{port()}/resnet50-0676ba61.pth'  # closed
    proc = run_tool(
        [str(TOOL), str(pretrained_config(tmp_path, url))],
        env=dict(TORCH_HOME=str(tmp_path / 'th')))
    lines = WARNING.sub('', proc.stderr).strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert url in lines[0] and 'Traceback' not in proc.stderr
    assert f'{tmp_path}/th/hub/checkpoints/resnet50-0676ba61.pth' in lines[0]


def test_no_config_is_a_usage_error(run_tool):
    proc = run_tool([str(TOOL)])
    assert proc.returncode == 2 and 'give CONFIG files or --all' in \
        proc.stderr


def test_train_without_the_weights_ends_on_one_line(run_tool, port,
                                                    tiny_config, tmp_path):
    """The ImageNet weights are neither in the cache nor downloadable:
    tools/train.py names the URL and where to put the file, before it
    trains (or saves) anything."""
    url = f'http://127.0.0.1:{port()}/resnet18-f37072fd.pth'  # closed
    config = tmp_path / 'cfg.py'
    config.write_text(
        f"_base_ = ['{tiny_config}']\n"
        'model = dict(backbone=dict(init_cfg=dict(_delete_=True, '
        f"type='Pretrained', checkpoint='{url}')))\n")
    work_dir = tmp_path / 'work_dir'
    proc = run_tool(
        ['tools/train.py',
         str(config), '--work-dir',
         str(work_dir)],
        env=dict(TORCH_HOME=str(tmp_path / 'th')))
    lines = WARNING.sub('', proc.stderr).strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith('train.py: error: pretrained weights ')
    assert url in lines[0] and 'Traceback' not in proc.stderr
    assert f'{tmp_path}/th/hub/checkpoints/resnet18-f37072fd.pth' in lines[0]
    assert not list(work_dir.rglob('*.pth'))
