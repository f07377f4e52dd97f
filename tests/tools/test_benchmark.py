# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/analysis_tools/benchmark.py on the tiny config."""
import json

import pytest


def test_compare_stages_json(run_tool, ok, tiny_config, tmp_path):
    out = tmp_path / 'bench.json'
    stdout = ok(
        run_tool([
            'tools/analysis_tools/benchmark.py',
            str(tiny_config), '--img-size', '64', '--shot', '2', '--repeat',
            '2', '--warmup', '1', '--compare', '--stages', '--out',
            str(out)
        ]))
    assert 'speed-up fast vs reference' in stdout
    result = json.loads(out.read_text())
    ref, fast = result['results']
    assert (ref['name'], fast['name']) == ('reference', 'fast')
    for r in (ref, fast):
        assert r['min_ms'] <= r['median_ms'] <= r['max_ms']
        assert set(
            r['stages_ms']) == {'backbone', 'neck', 'encoder', 'decode_head'}
        assert sum(r['stages_ms'].values()) <= r['max_ms'] * 1.01
    assert result['speedup'] == ref['median_ms'] / fast['median_ms']
    # the versions and the device that decide the numbers
    assert result['environment']['torch'].startswith(
        __import__('torch').__version__.split('+')[0])
    assert 'Pillow' in result['environment']


@pytest.mark.slow
def test_train_amp_checkpointing_and_per_shot(run_tool, ok, tiny_config):
    stdout = ok(
        run_tool([
            'tools/analysis_tools/benchmark.py',
            str(tiny_config), '--img-size', '64', '--batch-size', '2',
            '--repeat', '1', '--warmup', '0', '--train', '--amp', '--with-cp',
            '--threads', '1'
        ]))
    assert 'training step' in stdout and 'with_cp' in stdout
    stdout = ok(
        run_tool([
            'tools/analysis_tools/benchmark.py',
            str(tiny_config), '--img-size', '64', '--shot', '3', '--repeat',
            '1', '--warmup', '0', '--compare', '--per-shot-reference'
        ]))
    assert 'reference' in stdout and 'fast' in stdout


def test_compare_amp(run_tool, ok, tiny_config, tmp_path):
    """``--compare-amp``: the fast path in fp32 and under autocast, one
    process, their ratio; each with its peak memory."""
    out = tmp_path / 'amp.json'
    stdout = ok(
        run_tool([
            'tools/analysis_tools/benchmark.py',
            str(tiny_config), '--img-size', '64', '--repeat', '2', '--warmup',
            '0', '--compare-amp', '--out',
            str(out)
        ]))
    assert 'speed-up amp vs fp32' in stdout and 'fast path' in stdout
    result = json.loads(out.read_text())
    assert [r['name'] for r in result['results']] == ['fp32', 'amp']
    assert all(r['peak_mem_mib'] >= 0 for r in result['results'])


def test_backends(run_tool, ok, tiny_config, tmp_path):
    """``--backend``: an export of the same weights, timed against the
    PyTorch paths in one process, with the ratios; fp32 and bf16."""
    out = tmp_path / 'backends.json'
    stdout = ok(
        run_tool([
            'tools/analysis_tools/benchmark.py',
            str(tiny_config), '--img-size', '64', '--shot', '2', '--repeat',
            '2', '--warmup', '0', '--backend', 'pytorch', 'onnxruntime',
            'openvino', '--out',
            str(out)
        ]))
    assert 'exported in' in stdout and 'vs per-shot' in stdout
    result = json.loads(out.read_text())
    names = [r['name'] for r in result['results']]
    assert names == [
        'reference', 'per-shot', 'fast', 'onnxruntime', 'openvino'
    ]
    fast = result['results'][2]
    for r in result['results']:
        assert r['speedup']['fast'] == pytest.approx(fast['median_ms'] /
                                                     r['median_ms'])
    assert result['export_s'] > 0
    stdout = ok(
        run_tool([
            'tools/analysis_tools/benchmark.py',
            str(tiny_config), '--img-size', '64', '--repeat', '1', '--warmup',
            '0', '--backend', 'onnxruntime', 'openvino', '--amp'
        ]))
    assert 'bf16' in stdout and 'onnxruntime: skipped' in stdout
    assert 'openvino:' in stdout


def test_bad_arguments(run_tool, tiny_config):
    proc = run_tool([
        'tools/analysis_tools/benchmark.py',
        str(tiny_config), '--per-shot-reference'
    ])
    assert proc.returncode != 0 and '--compare' in proc.stderr
    proc = run_tool([
        'tools/analysis_tools/benchmark.py',
        str(tiny_config), '--compare-amp', '--amp'
    ])
    assert proc.returncode != 0 and 'drop --amp' in proc.stderr
    proc = run_tool([
        'tools/analysis_tools/benchmark.py', '--compare',
        str(tiny_config), '--compare-amp'
    ])
    assert proc.returncode != 0 and 'not allowed with' in proc.stderr
    proc = run_tool([
        'tools/analysis_tools/benchmark.py',
        str(tiny_config), '--repeat', '0'
    ])
    assert proc.returncode != 0 and '--repeat' in proc.stderr
    proc = run_tool([
        'tools/analysis_tools/benchmark.py',
        str(tiny_config), '--mask-area', '0'
    ])
    assert proc.returncode != 0 and '--mask-area' in proc.stderr
    proc = run_tool([
        'tools/analysis_tools/benchmark.py',
        str(tiny_config), '--backend', 'openvino', '--train'
    ])
    assert proc.returncode != 0 and 'drop --train' in proc.stderr
    proc = run_tool([
        'tools/analysis_tools/benchmark.py',
        str(tiny_config), '--export-dir', 'x'
    ])
    assert proc.returncode != 0 and 'goes with --backend' in proc.stderr


def test_mask_area_sets_square_masks():
    import argparse
    tool = load_tool()
    for area, side in ((0.25, 20), (1.0, 40), (0.09, 12)):
        args = argparse.Namespace(
            seed=0,
            batch_size=2,
            shot=3,
            img_size=40,
            mask_area=area,
            device='cpu')
        masks = tool.random_episodes(args)['support_masks']
        assert masks.shape == (2, 3, 40, 40)
        assert (masks.sum((-2, -1)) == side * side).all()
        rows = masks.amax(-1).sum(-1)
        assert (rows == side).all()  # one square per mask


def load_tool():
    """tools/analysis_tools/benchmark.py as a module."""
    import importlib.util
    from pathlib import Path
    path = (
        Path(__file__).parents[2] / 'tools' / 'analysis_tools' /
        'benchmark.py')
    spec = importlib.util.spec_from_file_location('benchmark_tool', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_matrix_table_json_and_epoch(run_tool, ok, tiny_config, tmp_path):
    """``--matrix`` on the tiny config: every configuration in the JSON,
    the table, the ratios and the PASCAL epoch estimate; batch 20 above
    ``--max-batch`` is listed as skipped and the epoch extrapolated."""
    out = tmp_path / 'matrix.json'
    stdout = ok(
        run_tool([
            'tools/analysis_tools/benchmark.py',
            str(tiny_config), '--img-size', '64', '--matrix', '--warmup', '0',
            '--repeat', '2', '--max-batch', '2', '--out',
            str(out)
        ]))
    tool = load_tool()
    plan = tool.matrix_plan()
    result = json.loads(out.read_text())
    rows = result['results']
    assert [(r['mode'], r['shot'], r['batch_size'], r['precision'], r['impl'])
            for r in rows] == [(c['mode'], c['shot'], c['batch_size'],
                                c['precision'], c['impl']) for c in plan]
    # the grid: both modes, shots, batches, precisions and paths
    assert {(r['mode'], r['shot'])
            for r in rows} == {('inference', 1), ('inference', 5),
                               ('train', 1)}
    assert {r['batch_size'] for r in rows} == {1, 20}
    assert {r['precision'] for r in rows} == {'fp32', 'amp'}
    assert {r['impl'] for r in rows} == {'fast', 'reference', 'per-shot'}
    for r in rows:
        if r['batch_size'] == 20:
            assert r['status'] == 'skipped' and '--max-batch 2' in r['reason']
            continue
        assert r['status'] == 'ok', r
        assert r['min_ms'] <= r['median_ms'] <= r['max_ms']
        assert 1 <= r['runs'] <= 2
        assert r['episodes_per_s'] == pytest.approx(1e3 / r['median_ms'])
        assert r['peak_mem_total_mib'] >= r['peak_mem_mib'] >= 0
        if r['impl'] == 'fast':
            assert r['speedup_vs_reference'] > 0
            assert ('speedup_vs_per_shot' in r) == (
                r['mode'] == 'inference' and r['shot'] == 5)
        if r['precision'] == 'amp':
            assert r['amp_speedup'] > 0
    assert result['complete'] is True
    assert result['settings']['amp_dtype'] == 'bfloat16'
    assert 'Pillow' in result['environment']
    # the table: the CPU table's columns plus throughput, one line a group
    # and one more for each 5-shot inference group's per-shot reference
    assert result['table'] in stdout
    table = result['table'].splitlines()
    assert table[0] == (
        '| what | reference, ms | fast, ms | fast vs reference | fast, '
        'episodes/s | peak memory (total) reference / fast, MiB |')
    assert len(table) == 2 + len(tool.MATRIX_GROUPS) + 4
    assert '| inference, 5-shot, batch 1, fp32, reference = 1-shot once ' \
        'per shot (official) |' in result['table']
    assert '| training step, 1-shot, batch 20, amp | skipped | skipped |' \
        in result['table']
    # the epoch: 570 steps (no PASCAL here) + 1000 validation episodes,
    # from the batch-1 steps scaled to batch 20
    epoch = result['epoch']
    assert (epoch['steps'], epoch['val_episodes']) == (570, 1000)
    assert [(e['impl'], e['precision'])
            for e in epoch['estimates']] == [('fast', 'amp'), ('fast', 'fp32'),
                                             ('reference', 'amp'),
                                             ('reference', 'fp32')]
    for e in epoch['estimates']:
        train = next(
            r for r in rows if r['mode'] == 'train' and r['impl'] == e['impl']
            and r['precision'] == e['precision'] and r['batch_size'] == 1)
        assert e['step_from_batch'] == 1
        assert e['step_ms'] == pytest.approx(20 * train['median_ms'])
        assert e['train_s'] == pytest.approx(570 * e['step_ms'] / 1e3)
        assert e['epoch_s'] == pytest.approx(e['train_s'] + e['val_s'])
        assert e['total_h'] == pytest.approx(200 * e['epoch_s'] / 3600)
    assert 'PASCAL-5i epoch at batch 20: 570 steps' in stdout
    assert '200 epochs' in stdout


def test_matrix_bounds():
    """A configuration is skipped above --max-batch, after the time budget,
    or when its smaller batch says its step would be too slow."""
    import argparse
    tool = load_tool()
    args = argparse.Namespace(
        max_batch=None, time_budget=None, config_seconds=1.0, warmup=1)
    c = dict(mode='train', shot=1, batch_size=20, precision='amp', impl='fast')
    measured = dict(c, batch_size=1, status='ok', median_ms=20.0)
    assert tool.skip_reason(c, [measured], args, 0.0) is None  # ~0.4 s
    slow = dict(measured, median_ms=100.0)  # ~2 s a step
    assert 'too slow: ~2.0 s a step (from batch 1)' in tool.skip_reason(
        c, [slow], args, 0.0)
    assert tool.skip_reason(dict(c, impl='reference'), [slow], args,
                            0.0) is None  # another path
    args.time_budget = 10.0
    assert '--time-budget 10 s spent' in tool.skip_reason(c, [], args, 10.5)
    args.config_seconds = 2.0  # 2 x ~1.2 s (warm-up and a run) > 1.6 s
    assert '1.6 s left' in tool.skip_reason(c,
                                            [dict(measured, median_ms=60.0)],
                                            args, 8.4)
    args.max_batch = 4
    assert tool.skip_reason(c, [], args, 0.0) == 'batch 20 > --max-batch 4'


def test_pascal_epoch_steps(pascal_root, tmp_path):
    """The epoch's steps come from the config's train split when its data
    is there, else 570 with the reason."""
    import argparse

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    tool = load_tool()
    init_default_scope('mmseg')
    args = argparse.Namespace(epoch_steps=None)
    from pathlib import Path
    cfg = Config.fromfile(
        str(
            Path(__file__).parents[2] / 'configs' / 'hsnet' /
            'hsnet_r50_pascal5i_fold0_1shot.py'))
    missing = tool.pascal_epoch(cfg, args)
    assert missing['steps'] == 570
    assert 'its data is not here' in missing['steps_note']
    assert (missing['val_episodes'], missing['val_batch_size']) == (1000, 4)
    cfg.train_dataloader.dataset.data_root = str(pascal_root)
    found = tool.pascal_epoch(cfg, args)
    episodes = sum(
        len((pascal_root / 'splits' / 'pascal' / 'trn' /
             f'fold{f}.txt').read_text().split()) for f in (1, 2, 3))
    assert found['steps'] == -(-episodes // 20)
    assert f'{episodes} episodes' in found['steps_note']
    assert tool.pascal_epoch(cfg,
                             argparse.Namespace(epoch_steps=7))['steps'] == 7


def test_matrix_bad_arguments(tiny_config, capsys):
    """One line and exit code 2 (in process: the error boundary of the
    tools, ``call_cli``)."""
    from hsnet_mm.utils import call_cli
    tool = load_tool()
    for argv, message in (
        (['--matrix', '--train', '--shot', '5'], 'drop --train --shot'),
        (['--matrix', '--time-budget', '0'], '--time-budget must be > 0'),
        (['--matrix', '--max-batch', '0'], '--max-batch must be >= 1'),
        (['--amp-dtype', 'float16'], 'float16 needs CUDA'),
    ):
        assert call_cli(tool.main, [str(tiny_config), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
