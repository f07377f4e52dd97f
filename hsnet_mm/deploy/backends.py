# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Runtimes that run an exported graph: ONNX Runtime and OpenVINO.

Both come from PyPI with ``pip install 'hsnet-mm[deploy]'``. A session is
built from an ``.onnx`` file and runs ``{input name: array} -> [arrays]``
in the graph's output order. Measured choices (docs/deployment.md):
ONNX Runtime with every graph optimisation and intra-op threads = cores;
OpenVINO's CPU plugin with the latency hint. Precision ``'fp32'`` is exact
float32 (OpenVINO would otherwise run bf16 on CPUs that have it);
``'bf16'`` asks OpenVINO for bfloat16 inference.
"""
import os
from typing import Dict, List, Optional

import numpy as np

from ..utils.cli import UserError

#: The precisions a backend may be asked for.
PRECISIONS = ('fp32', 'bf16')


def _need(module: str):
    try:
        return __import__(module)
    except ImportError as e:
        raise UserError(f'the {module} runtime is not installed: pip install '
                        f'"hsnet-mm[deploy]" (or pip install {module})') from e


def default_threads() -> int:
    """Intra-op threads: ``OMP_NUM_THREADS`` if set, else every core."""
    env = os.environ.get('OMP_NUM_THREADS', '')
    return int(env) if env.isdigit() and int(env) > 0 else os.cpu_count()


class OnnxRuntimeSession:
    """An ONNX Runtime CPU session of one graph.

    Args:
        path (str): the ``.onnx`` file.
        threads (int, optional): intra-op threads. Defaults to None
            (:func:`default_threads`).
        precision (str): only ``'fp32'``. Defaults to 'fp32'.
    """

    name = 'onnxruntime'

    def __init__(self,
                 path: str,
                 threads: Optional[int] = None,
                 precision: str = 'fp32') -> None:
        if precision != 'fp32':
            raise UserError(f'onnxruntime runs fp32 only, got precision '
                            f'{precision!r} (openvino has bf16)')
        ort = _need('onnxruntime')
        options = ort.SessionOptions()
        options.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        options.intra_op_num_threads = threads or default_threads()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            path, options, providers=['CPUExecutionProvider'])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def run(self, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """Run the graph on ``feeds``; the outputs in the graph's order."""
        return self.session.run(None, feeds)


class OpenVINOSession:
    """An OpenVINO CPU compiled model of one graph.

    Args:
        path (str): the ``.onnx`` file (read by OpenVINO's ONNX frontend).
        threads (int, optional): inference threads. Defaults to None
            (:func:`default_threads`).
        precision (str): ``'fp32'`` or ``'bf16'`` (the CPU plugin's
            inference precision). Defaults to 'fp32'.
    """

    name = 'openvino'

    def __init__(self,
                 path: str,
                 threads: Optional[int] = None,
                 precision: str = 'fp32') -> None:
        if precision not in PRECISIONS:
            raise UserError(f'precision must be one of {PRECISIONS}, got '
                            f'{precision!r}')
        ov = _need('openvino')
        core = ov.Core()
        model = core.read_model(path)
        self.input_names = [p.get_any_name() for p in model.inputs]
        config = {
            'PERFORMANCE_HINT': 'LATENCY',
            'INFERENCE_NUM_THREADS': threads or default_threads(),
            'INFERENCE_PRECISION_HINT':
            'f32' if precision == 'fp32' else 'bf16',
        }
        self.core = core  # (kept: it must outlive what it compiled)
        self.compiled = core.compile_model(model, 'CPU', config)
        self.request = self.compiled.create_infer_request()

    def __del__(self) -> None:
        # release in dependency order: request, compiled model, core (a
        # cyclic garbage collection would free them in any order)
        for name in ('request', 'compiled', 'core'):
            self.__dict__.pop(name, None)

    def run(self, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        """Run the graph on ``feeds``; the outputs in the graph's order."""
        results = self.request.infer(feeds)
        return [
            np.array(results[out], copy=True) for out in self.compiled.outputs
        ]


#: Backend name -> session class.
BACKENDS = {
    OnnxRuntimeSession.name: OnnxRuntimeSession,
    OpenVINOSession.name: OpenVINOSession
}


def open_session(backend: str, path: str, **kwargs):
    """A session of ``backend`` (a key of :data:`BACKENDS`) for ``path``."""
    if backend not in BACKENDS:
        raise UserError(f'backend must be one of {", ".join(BACKENDS)}, got '
                        f'{backend!r}')
    return BACKENDS[backend](path, **kwargs)
