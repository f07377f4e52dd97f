# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Every tool ends a user error with one line on stderr and exit code 2, and
shows a bug's traceback (hsnet_mm.utils.cli)."""
import re

import pytest
import torch

from tests.mounts import small_tmpfs

PASCAL_CONFIG = 'configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py'
#: A Python warning (``file:line: XWarning: ...`` and its source line), e.g.
#: mmseg's about build_loss whenever a model is built: not the error.
WARNING = re.compile(r'^\S+:\d+: \w*Warning: .*\n(  .*\n)?', re.M)


def error_line(proc, *fragments):
    """Assert exit code 2 and stderr = one ``<tool>: error: ...`` line
    (besides Python warnings) holding ``fragments``; return the line."""
    lines = WARNING.sub('', proc.stderr).strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, (
        f'exit code {proc.returncode}\n--- stderr\n{proc.stderr[-4000:]}')
    assert ': error: ' in lines[0] and 'Traceback' not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize('args, fragments', [
    (['tools/train.py'], [
        'train.py: error: the following arguments are '
        'required: config', '--help'
    ]),
    (['tools/test.py', 'cfg.py', 'ckpt.pth', '--shot', '0'
      ], ['--shot must be >= 1, got 0']),
    (['tools/test.py', 'cfg.py', 'ckpt.pth', '--episodes', 'many'
      ], ["argument --episodes: invalid int value: 'many'"]),
    (['tools/analysis_tools/benchmark.py', 'cfg.py', '--repeat', '0'
      ], ['--repeat must be >= 1']),
    (['demo/image_demo.py', 'q.png', 'cfg.py', 'c.pth', '--out-dir', 'o'], [
        'image_demo.py: error: the following arguments are required: '
        '--support'
    ]),
])
def test_bad_arguments(run_tool, args, fragments):
    error_line(run_tool(args), *fragments)


def test_missing_config_file(run_tool, tmp_path):
    config, ckpt = str(tmp_path / 'nope.py'), str(tmp_path / 'x.pth')
    for args in (['tools/train.py', config], ['tools/test.py', config, ckpt],
                 ['tools/analysis_tools/few_shot_baselines.py', config,
                  ckpt], ['tools/analysis_tools/browse_dataset.py', config]):
        error_line(run_tool(args), f'config file not found: {config}')
    assert list(tmp_path.iterdir()) == []


def test_missing_folder(run_tool, tmp_path):
    error_line(
        run_tool([
            'tools/dataset_converters/fss1000.py',
            str(tmp_path / 'nowhere'), '-o',
            str(tmp_path / 'out')
        ]), f'fss1000.py: error: {tmp_path}/nowhere is not a folder')
    error_line(
        run_tool([
            'tools/dataset_converters/pascal5i.py',
            str(tmp_path / 'VOC2012')
        ]), 'SegmentationClass is missing')
    error_line(
        run_tool(['tools/analysis_tools/plot_curves.py',
                  str(tmp_path)]), 'no scalar log')


def test_train_without_the_dataset(run_tool, tmp_path):
    """``tools/train.py <pascal config>`` without the data: it used to print
    a traceback before the dataset's message."""
    line = error_line(
        run_tool([
            'tools/train.py', PASCAL_CONFIG, '--work-dir',
            str(tmp_path / 'wd'), '--cfg-options',
            f'train_dataloader.dataset.data_root={tmp_path}/VOC2012'
        ]), 'train.py: error: ', f'{tmp_path}/VOC2012')
    assert 'is not a folder (see docs/dataset_prepare.md)' in line


def test_dataset_settings_rejected_while_the_runner_builds(
        run_tool, tiny_config, tmp_path):
    """A dataset refusing its settings inside the Runner: one line too."""
    error_line(
        run_tool([
            'tools/train.py',
            str(tiny_config), '--work-dir',
            str(tmp_path / 'wd'), '--cfg-options',
            'train_dataloader.dataset.shot=0'
        ]), 'train.py: error: ', 'shot must be a positive int, got 0')


@pytest.mark.parametrize('option, fragments', [
    ('model.foo=1', ["HSNet (model) has no argument 'foo'"]),
    ('test_dataloder.batch_size=1', [
        "no component reads the top-level key 'test_dataloder'; did you mean "
        "'test_dataloader'?"
    ]),
    ('train_cfg.max_epochs=two', [
        "--cfg-options train_cfg.max_epochs='two': expected int (the config "
        'has 2), got str'
    ]),
    ('optim_wrapper.optimizer.lr=[1,2]', ['expected float']),
])
def test_config_typos_and_wrong_types(run_tool, tiny_config, tmp_path, option,
                                      fragments):
    for tool, extra in (('tools/train.py', []), ('tools/test.py',
                                                 [str(tmp_path / 'x.pth')])):
        error_line(
            run_tool([
                tool,
                str(tiny_config), *extra, '--work-dir',
                str(tmp_path / 'wd'), '--cfg-options', option
            ]), *fragments)
    assert not (tmp_path / 'wd').exists()


def test_config_syntax_error(run_tool, tmp_path):
    config = tmp_path / 'broken.py'
    config.write_text('model = dict(type="HSNet"\n')
    error_line(
        run_tool(['tools/train.py', str(config)]),
        f'config {config} has a syntax error (line 1): ')


@pytest.mark.skipif(torch.cuda.is_available(), reason='CUDA is available')
def test_no_cuda_for_device_cuda(run_tool, tiny_config, tmp_path):
    error_line(
        run_tool([
            'tools/analysis_tools/support_reuse_speed.py',
            str(tiny_config), '--device', 'cuda'
        ]), '--device cuda: no CUDA device is available')
    error_line(
        run_tool([
            'tools/analysis_tools/benchmark.py',
            str(tiny_config), '--device', 'cuda'
        ]), '--device cuda: no CUDA device is available')
    error_line(
        run_tool([
            'demo/image_demo.py', 'q.png', '--support', 's.png', 'm.png',
            str(tiny_config), 'c.pth', '--out-dir',
            str(tmp_path / 'o'), '--device', 'cuda'
        ]), '--device cuda')


def test_checkpoint_and_output_errors(run_tool, tiny_config, trained,
                                      tmp_path):
    junk = tmp_path / 'junk.pth'
    junk.write_text('not a checkpoint')
    error_line(
        run_tool([
            'tools/test.py',
            str(tiny_config),
            str(junk), '--work-dir',
            str(tmp_path / 'wd')
        ]), 'test.py: error: ', 'junk.pth is not a PyTorch checkpoint')
    error_line(
        run_tool([
            'tools/analysis_tools/few_shot_baselines.py',
            str(tiny_config),
            str(tmp_path / 'missing.pth')
        ]), 'checkpoint file not found')
    with small_tmpfs(tmp_path / 'ro', read_only=True) as read_only:
        error_line(
            run_tool(['demo/make_examples.py',
                      str(read_only / 'ex')]), 'cannot be written')
    # a multi-line message (every difference) still comes on one line
    error_line(
        run_tool([
            'tools/test.py',
            str(tiny_config),
            str(trained / 'epoch_2.pth'), '--work-dir',
            str(tmp_path / 'wd'), '--cfg-options',
            'model.backbone.base_channels=16'
        ]), 'does not match the model of the config: ', 'missing key(s)')


def test_bugs_keep_their_traceback(run_tool, tmp_path):
    """Any other exception, a ValueError too, is a bug: traceback, exit 1."""
    for exc in ("ValueError('a bug')", "ZeroDivisionError('a bug')"):
        script = tmp_path / 'tool.py'
        script.write_text('from hsnet_mm.utils import run_cli\n\n\n'
                          f'def main():\n    raise {exc}\n\n\n'
                          "if __name__ == '__main__':\n    run_cli(main)\n")
        proc = run_tool([str(script)])
        assert proc.returncode == 1
        assert 'Traceback (most recent call last)' in proc.stderr
        assert proc.stderr.rstrip().endswith(exc.replace("('", ": ")[:-2])
        assert 'error: a bug' not in proc.stderr
    # a real tool: a bug in a plugin module the config imports
    (tmp_path /
     'buggy_plugin.py').write_text("raise RuntimeError('a bug in a plugin')\n")
    config = tmp_path / 'plugin_cfg.py'
    config.write_text("custom_imports = dict(imports=['buggy_plugin'], "
                      'allow_failed_imports=False)\n')
    proc = run_tool(['tools/train.py', str(config)],
                    env=dict(PYTHONPATH=str(tmp_path)))
    assert proc.returncode == 1
    assert 'Traceback (most recent call last)' in proc.stderr
    assert 'RuntimeError: a bug in a plugin' in proc.stderr
