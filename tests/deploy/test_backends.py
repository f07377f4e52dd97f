# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The runtimes run a graph as PyTorch does; bad options are refused."""
import numpy as np
import pytest
import torch

from hsnet_mm.deploy.backends import BACKENDS, default_threads, open_session
from hsnet_mm.utils import UserError
from tests.deploy.runtime_process import call


@pytest.fixture(scope='module')
def small_graph(tmp_path_factory):
    """A conv + GroupNorm + softmax graph with a dynamic batch and size."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.GroupNorm(2, 8),
        torch.nn.ReLU(), torch.nn.Softmax(dim=1)).eval()
    path = tmp_path_factory.mktemp('graph') / 'small.onnx'
    torch.onnx.export(
        net, (torch.randn(1, 3, 16, 16), ),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=['x'],
        output_names=['y'],
        dynamic_axes={'x': {
            0: 'N',
            2: 'H',
            3: 'W'
        }})
    return net, str(path)


@pytest.mark.parametrize('backend', sorted(BACKENDS))
def test_runs_like_pytorch(small_graph, backend, tmp_path):
    """Each runtime (OpenVINO in a subprocess, see runtime_process), and
    OpenVINO's bf16 inference precision (exact only to ~1e-2)."""
    net, path = small_graph
    x = torch.randn(2, 3, 20, 12)
    out, = call('run_session', backend, (backend, path, {
        'x': x.numpy()
    }), tmp_path)
    with torch.no_grad():
        ref = net(x).numpy()
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 1e-5
    if backend == 'openvino':
        out, = call('run_session', backend, (backend, path, {
            'x': x.numpy()
        }, 'bf16'), tmp_path)
        assert np.abs(out - ref).max() < 0.05


def test_input_names(small_graph):
    _, path = small_graph
    assert open_session('onnxruntime', path).input_names == ['x']


def test_bad_options(small_graph):
    _, path = small_graph
    with pytest.raises(UserError, match='backend must be one of'):
        open_session('tensorrt', path)
    with pytest.raises(UserError, match='onnxruntime runs fp32 only'):
        open_session('onnxruntime', path, precision='bf16')
    with pytest.raises(UserError, match='precision must be one of'):
        open_session('openvino', path, precision='int4')


def test_default_threads(monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    assert default_threads() == 3
    monkeypatch.setenv('OMP_NUM_THREADS', 'many')
    assert default_threads() >= 1
