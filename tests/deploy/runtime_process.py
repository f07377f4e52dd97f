# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Run an export's computations with a runtime, in this process or in a
fresh one.

OpenVINO (2025.4 and 2026.4 seen) runs in a subprocess: once its CPU plugin
has run inference in the pytest process, an unrelated later test crashed
that process (a segfault in the interpreter, 100+ tests later;
docs/deployment.md, "Not supported"). ONNX Runtime runs in process.

A job is ``(kind, data)``: ``('encode_decode', inputs)``; ``('shot_logits',
inputs)`` (the first episode's supports encoded once, every query against
them); ``('inference_episode', (queries, supports, masks))`` (its samples'
``seg_logits`` and ``pred_sem_seg``).
"""
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Sequence, Tuple

import torch

#: Backends run in a subprocess.
ISOLATED = ('openvino', )

Job = Tuple[str, Any]


def run_jobs(export_dir: str, backend: str, jobs: Sequence[Job]) -> List:
    """The jobs' outputs, computed in this process."""
    from hsnet_mm.apis import inference_episode
    from hsnet_mm.deploy import DeployedHSNet
    model = DeployedHSNet(export_dir, backend)
    out = []
    for kind, data in jobs:
        if kind == 'encode_decode':
            out.append(model.encode_decode(data))
        elif kind == 'shot_logits':
            support = model.encode_support(data['support_imgs'][:1],
                                           data['support_masks'][:1])
            out.append(model.shot_logits(data['query_img'], support))
        elif kind == 'inference_episode':
            samples = inference_episode(model, *data)
            out.append([(s.seg_logits.data, s.pred_sem_seg.data)
                        for s in samples])
        else:
            raise ValueError(f'unknown job {kind!r}')
    return out


def run_session(backend: str,
                path: str,
                feeds: dict,
                precision: str = 'fp32') -> List:
    """One run of a graph file with a backend's session, in this process."""
    from hsnet_mm.deploy.backends import open_session
    return open_session(
        backend, path, threads=1, precision=precision).run(feeds)


SCRIPT = """
import importlib.util, sys, torch
spec = importlib.util.spec_from_file_location('runtime_process', sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
args = torch.load(sys.argv[3], weights_only=False)
torch.save(getattr(module, sys.argv[2])(*args), sys.argv[4])
"""


def call(function: str, backend: str, args: tuple, tmp_path: Path):
    """``function(*args)`` of this module; in a subprocess for the
    :data:`ISOLATED` backends (``args`` and the result travel as files)."""
    if backend not in ISOLATED:
        return globals()[function](*args)
    src = tmp_path / f'{backend}_{function}_args.pt'
    dst = tmp_path / f'{backend}_{function}_out.pt'
    torch.save(args, src)
    proc = subprocess.run(
        [sys.executable, '-c', SCRIPT, __file__, function,
         str(src),
         str(dst)],
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return torch.load(dst, weights_only=False)


def deployed_outputs(export_dir, backend: str, jobs: Sequence[Job],
                     tmp_path: Path) -> List:
    """:func:`run_jobs` through :func:`call`."""
    return call('run_jobs', backend, (str(export_dir), backend, list(jobs)),
                tmp_path)
