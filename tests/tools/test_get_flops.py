# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/analysis_tools/get_flops.py."""
import re

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch.utils.flop_counter import FlopCounterMode

from tests.tools.conftest import REPO_ROOT


def test_tiny_stages_and_params(run_tool, ok, tiny_config):
    stdout = ok(
        run_tool([
            'tools/analysis_tools/get_flops.py',
            str(tiny_config), '--shot', '2', '--img-size', '64'
        ]))
    stages = dict(re.findall(r'^  (\S.*?)\s+([\d.]+) GFLOPs', stdout, re.M))
    assert list(stages) == [
        'backbone (query)', 'backbone (2 supports)', 'correlation',
        '4D encoder', 'decoder', 'total'
    ]
    assert float(stages['backbone (2 supports)']) == pytest.approx(
        2 * float(stages['backbone (query)']), abs=0.01)
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(tiny_config))
    model = MODELS.build(cfg.model)
    learnable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert f'learnable {learnable:,},' in stdout


def test_fast_path_multiplies_less(run_tool, ok):
    """``--impl`` counts what each path multiplies: the fast one less (at
    64 px its mix blocks' support conv is a GEMM, no padding taps)."""

    def stages(impl):
        stdout = ok(
            run_tool([
                'tools/analysis_tools/get_flops.py',
                str(REPO_ROOT / 'configs/hsnet/hsnet_r18_synthetic_1shot.py'),
                '--img-size', '64', '--impl', impl
            ]))
        assert f'{impl} path' in stdout
        return {
            k: float(v)
            for k, v in re.findall(r'^  (\S.*?)\s+([\d.]+) GFLOPs', stdout,
                                   re.M)
        }

    fast, ref = stages('fast'), stages('reference')
    assert fast['backbone (query)'] == ref['backbone (query)'] > 0
    assert 0 < fast['4D encoder'] < 0.6 * ref['4D encoder']


def test_flop_counter_counts_two_per_multiply_add():
    """What the tool states: a (M x K) @ (K x N) product is 2 M K N."""
    import torch
    with FlopCounterMode(display=False) as counter:
        torch.randn(3, 4) @ torch.randn(4, 5)
    assert counter.get_total_flops() == 2 * 3 * 4 * 5


@pytest.mark.slow
def test_resnet50_learnable_params(run_tool, ok):
    stdout = ok(
        run_tool([
            'tools/analysis_tools/get_flops.py',
            str(REPO_ROOT / 'configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py'),
            '--img-size', '64'
        ]))
    assert 'learnable 2,573,794,' in stdout
