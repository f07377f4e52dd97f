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


def test_mask_area_sets_square_masks():
    import argparse
    import importlib.util
    from pathlib import Path
    path = (
        Path(__file__).parents[2] / 'tools' / 'analysis_tools' /
        'benchmark.py')
    spec = importlib.util.spec_from_file_location('benchmark_tool', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
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
