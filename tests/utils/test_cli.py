# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The tools' error boundary: user errors are one line and exit 2, bugs keep
their traceback."""
import argparse
import ast
import errno
import logging
import os

import pytest
import torch

from hsnet_mm.utils import (USER_ERRORS, ConfigValueTypeError,
                            InvalidCheckpointError, NoSpaceError,
                            UnknownConfigKeyError, UsageError, UserError,
                            call_cli, check_device, check_option_types,
                            one_line)
from tests.helpers import REPO_ROOT


def _raiser(exc):

    def main(argv=None):
        raise exc

    return main


@pytest.mark.parametrize('exc', [
    UserError('bad value'),
    FileNotFoundError('config file not found: x.py'),
    NotADirectoryError('data is not a folder'),
    PermissionError('output /ro/x.json cannot be written'),
    UnknownConfigKeyError("model.foo: HSNet has no argument 'foo'"),
    ConfigValueTypeError('--cfg-options a=1: expected str'),
    InvalidCheckpointError('x.pth is not a PyTorch checkpoint'),
])
def test_user_errors_are_one_line_and_exit_2(exc, capsys):
    assert isinstance(exc, USER_ERRORS)
    assert call_cli(_raiser(exc), [], prog='tool.py') == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f'tool.py: error: {exc}']


@pytest.mark.parametrize('exc', [
    ValueError('a bug'),
    KeyError('a bug'),
    TypeError('a bug'),
    RuntimeError('a bug'),
    OSError('an I/O bug'),
])
def test_bugs_propagate(exc, capsys):
    with pytest.raises(type(exc)):
        call_cli(_raiser(exc), [])
    assert capsys.readouterr().err == ''


def test_extra_user_errors_of_a_tool(capsys):
    main = _raiser(KeyError('no such split'))
    assert call_cli(main, [], user_errors=(KeyError, ), prog='t.py') == 2
    assert capsys.readouterr().err == 't.py: error: no such split\n'


def test_exit_codes_and_argparse_errors(capsys):

    def main(argv):
        parser = argparse.ArgumentParser(prog='tool.py')
        parser.add_argument('config')
        parser.add_argument('--shot', type=int, default=1)
        args = parser.parse_args(argv)
        if args.shot < 1:
            parser.error('--shot must be >= 1')
        return 3 if args.config == 'three' else {'a report': 1}

    assert call_cli(main, ['three']) == 3
    assert call_cli(main, ['cfg.py']) == 0  # a report, not an exit code
    for argv, message in ((['a', '--shot', 'x'], "invalid int value: 'x'"),
                          (['a', '--shot', '0'], '--shot must be >= 1'),
                          ([], 'the following arguments are required')):
        assert call_cli(main, argv, prog='tool.py') == 2
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 1 and lines[0].startswith('tool.py: error: ')
        assert message in lines[0] and '(see tool.py --help)' in lines[0]
    # outside the boundary argparse behaves as usual
    parser = argparse.ArgumentParser()
    with pytest.raises(SystemExit):
        parser.error('x')
    assert issubclass(UsageError, UserError)
    assert call_cli(lambda: None) == 0  # no argv: main() without arguments


def test_one_line():
    assert one_line(KeyError('no key')) == 'no key'
    err = UserError('checkpoint c.pth does not match the model:\n'
                    '  2 missing key(s): a, b\n  1 unexpected key(s): c')
    assert one_line(err) == ('checkpoint c.pth does not match the model: '
                             '2 missing key(s): a, b; 1 unexpected key(s): c')
    assert one_line(RuntimeError()) == 'RuntimeError'


def test_check_device(monkeypatch):
    assert check_device('cpu') == 'cpu'
    with pytest.raises(UserError, match='--device gpu0: not a device'):
        check_device('gpu0')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(UserError, match='no CUDA device is available'):
        check_device('cuda')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    assert check_device('cuda:1') == 'cuda:1'
    with pytest.raises(UserError, match='2 CUDA device'):
        check_device('cuda:2')


@pytest.mark.parametrize('options, message', [
    ({
        'train_cfg.max_epochs': 'two'
    }, "train_cfg.max_epochs='two': expected int (the config has 2), got str"),
    ({
        'train_cfg.max_epochs': 2.5
    }, 'expected int'),
    ({
        'optim_wrapper.optimizer.lr': 'fast'
    }, 'expected float'),
    ({
        'optim_wrapper.type': 3
    }, 'expected str'),
    ({
        'model.backbone': 'r50'
    }, "expected dict (the config has {'type'"),
    ({
        'pipeline.0.scale': 64
    }, 'expected list or tuple'),
    ({
        'find_unused_parameters': 1
    }, 'expected bool'),
])
def test_wrong_typed_options_are_named(options, message):
    from mmengine.config import Config
    cfg = Config(
        dict(
            train_cfg=dict(max_epochs=2),
            optim_wrapper=dict(
                type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)),
            model=dict(backbone=dict(type='HSNetResNet', depth=50)),
            pipeline=[dict(type='ResizeEpisode', scale=(64, 64))],
            find_unused_parameters=False))
    with pytest.raises(ConfigValueTypeError) as err:
        check_option_types(cfg, options)
    assert message in str(err.value)
    assert str(err.value).startswith(f'--cfg-options {next(iter(options))}=')


def test_fitting_options_pass():
    from mmengine.config import Config
    cfg = Config(
        dict(
            lr=1e-3,
            max_epochs=2,
            scale=(64, 64),
            init_cfg=dict(type='Pretrained'),
            load_from=None,
            flag=True))
    check_option_types(
        cfg,
        dict(
            lr=1,  # an int for a float
            max_epochs=3,
            scale=[32, 32],  # a list for a tuple
            init_cfg=None,  # None for anything
            load_from='w.pth',  # anything for None
            flag=False,
            new_key='x'))  # unknown keys: check_config_keys' job


def _main_block_calls(path):
    """The names called in the ``if __name__ == '__main__':`` block."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and getattr(node.test.left, 'id', None) == '__name__'):
            return {
                n.func.id if isinstance(n.func, ast.Name) else n.func.attr
                for n in ast.walk(node) if isinstance(n, ast.Call)
            }
    return None


def test_every_tool_runs_in_the_boundary():
    """Every script of tools/ and demo/ with a ``__main__`` block (future
    ones too) calls ``run_cli(main)`` or ``call_cli(main)`` there."""
    scripts = sorted((REPO_ROOT / 'tools').rglob('*.py')) + sorted(
        (REPO_ROOT / 'demo').glob('*.py'))
    missing, checked = [], 0
    for path in scripts:
        calls = _main_block_calls(path)
        if calls is None:
            continue
        checked += 1
        if not calls & {'run_cli', 'call_cli'}:
            missing.append(str(path.relative_to(REPO_ROOT)))
    assert checked >= 16
    assert not missing, f'not in the error boundary: {missing}'


def _write_on_full_disk(file_path):
    """A write whose ``close`` fails (as on a full disk) with an OSError
    naming no file, like mmengine's scalar dump."""
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize('exc, line', [
    (OSError(errno.ENOSPC, 'No space left on device', '/wd/a.log'),
     'no space left on device (/wd/a.log); free some space there or write '
     'elsewhere'),
    (OSError(errno.EROFS, 'Read-only file system', '/ro/wd'),
     'read-only file system (/ro/wd); choose a writable folder'),
    (NoSpaceError(errno.ENOSPC, 'no space left on device: /wd/x.pth needs '
                  '9 bytes'), 'no space left on device: /wd/x.pth needs 9 '
     'bytes'),
])
def test_full_disk_and_read_only_errors_are_user_errors(exc, line, capsys):
    """Wherever raised (mmengine's log, config dump or scalars mid-run)."""
    assert call_cli(_raiser(exc), [], prog='train.py') == 2
    assert capsys.readouterr().err == f'train.py: error: {line}\n'


def test_a_full_disk_error_without_a_file_name_names_the_file(capsys):

    def main():
        _write_on_full_disk('/wd/vis_data/scalars.json')

    assert call_cli(main, prog='t.py') == 2
    assert capsys.readouterr().err == (
        't.py: error: no space left on device (/wd/vis_data/scalars.json); '
        'free some space there or write elsewhere\n')


def test_a_log_handler_on_a_full_disk_stops_the_tool(tmp_path, capsys):
    """logging would print '--- Logging error ---' and a traceback, then go
    on; inside the boundary the write error ends the tool in one line."""

    class FullDiskFile(logging.FileHandler):

        def emit(self, record):
            try:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            except OSError:
                self.handleError(record)

    logger = logging.getLogger('hsnet_mm_test_full_disk')
    handler = FullDiskFile(tmp_path / 'run.log', delay=True)
    logger.addHandler(handler)
    try:
        assert call_cli(lambda: logger.warning('a line'), prog='t.py') == 2
        err = capsys.readouterr().err
        assert err == (f't.py: error: no space left on device ({tmp_path}/'
                       'run.log); free some space there or write elsewhere\n')
        logger.warning('outside the boundary: printed, not raised')
        assert '--- Logging error ---' in capsys.readouterr().err
    finally:
        logger.removeHandler(handler)
