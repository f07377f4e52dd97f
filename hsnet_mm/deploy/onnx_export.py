# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Export an HSNet to an ONNX directory (two graphs, see :mod:`.graphs`).

The exporter is PyTorch's TorchScript-based ``torch.onnx.export(...,
dynamo=False)``: it runs on every torch this project supports (2.1-2.13)
without ``onnxscript``. The export is checked before it is put in place:
ONNX Runtime runs both graphs at two input sizes and 1 and 3 shots, and
their logits must be within ``tolerance`` of PyTorch's; the folder is
written under a temporary name and renamed at the end (never a half-written
export).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` images, ``B``
queries, ``K`` shots, ``H, W`` input size.
"""
import os
import os.path as osp
import shutil
import tempfile
import warnings
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config

from ..utils.cli import UserError
from ..version import __version__
from .graphs import (EncoderGraph, PredictorGraph, export_friendly,
                     flatten_levels, level_masks)
from .manifest import (CONFIG_FILE, EXPORT_FORMAT, GRAPH_FILES, describe_files,
                       write_manifest)

#: The ONNX opset written by default (ONNX Runtime >= 1.12, OpenVINO).
DEFAULT_OPSET = 17

#: The oldest opset that exports HSNet (bilinear Resize with aligned
#: corners and dynamic sizes).
MIN_OPSET = 11


def _dummy_episode(size: Tuple[int, int],
                   shots: int,
                   queries: int,
                   seed: int = 0):
    """Normalised random images and blob masks, (N, 3, H, W) / (K, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    query = torch.randn(queries, 3, h, w, generator=gen)
    support = torch.randn(shots, 3, h, w, generator=gen)
    masks = torch.zeros(shots, h, w)
    for k in range(shots):
        top, left = (k * h) // (4 * shots), (k * w) // (3 * shots)
        masks[k, top:top + h // 2, left:left + w // 2] = 1
    return query, support, masks


def _names(prefix: str, count: int):
    return [f'{prefix}{i}' for i in range(count)]


def export_onnx(model: nn.Module,
                cfg: Config,
                out_dir: str,
                img_size: Sequence[int] = (400, 400),
                opset: int = DEFAULT_OPSET,
                tolerance: float = 1e-4,
                overwrite: bool = False) -> dict:
    """Export ``model`` to ``out_dir`` and check the export.

    Args:
        model (nn.Module): an HSNet (``extract_feat``, ``encode_pairs``,
            ``decode_head``, ``align_corners``), any device.
        cfg (Config): its config (copied into the export).
        out_dir (str): the export directory to create.
        img_size (Sequence[int]): (H, W) traced and checked first (the
            graphs accept any size the model does). Defaults to (400, 400).
        opset (int): ONNX opset, >= :data:`MIN_OPSET`. Defaults to 17.
        tolerance (float): the largest logit difference to PyTorch's
            accepted by the check. Defaults to 1e-4.
        overwrite (bool): replace an existing ``out_dir``. Defaults to
            False.

    Returns:
        dict: the manifest written (``deploy.json``).

    Raises:
        UserError: a bad option, ``out_dir`` exists, or the exported
            graphs disagree with PyTorch (nothing is written).
    """
    for attr in ('extract_feat', 'encode_pairs', 'decode_head'):
        if not hasattr(model, attr):
            raise UserError(f'{type(model).__name__} cannot be exported: it '
                            f'has no {attr} (an HSNet-like segmentor)')
    if opset < MIN_OPSET:
        raise UserError(f'opset must be >= {MIN_OPSET} (bilinear Resize with '
                        f'aligned corners), got {opset}')
    h, w = (int(s) for s in img_size)
    if min(h, w) < 32:
        raise UserError(f'img_size must be at least 32 x 32, got {h} x {w}')
    out_dir = osp.abspath(out_dir)
    if osp.lexists(out_dir) and not overwrite:
        raise UserError(f'{out_dir} exists: choose another --out or pass '
                        '--overwrite')
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    friendly = export_friendly(model)
    tmp = tempfile.mkdtemp(
        prefix='.' + osp.basename(out_dir) + '.', dir=parent)
    try:
        manifest = _export_into(friendly, cfg, tmp, (h, w), opset)
        manifest['checks'] = check_export(model, tmp, manifest, (h, w),
                                          tolerance)
        write_manifest(tmp, manifest)
        if osp.lexists(out_dir):
            shutil.rmtree(out_dir) if osp.isdir(out_dir) else os.remove(
                out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _export_into(model: nn.Module, cfg: Config, folder: str,
                 size: Tuple[int, int], opset: int) -> dict:
    query, support, masks = _dummy_episode(size, shots=2, queries=2)
    with torch.no_grad():
        groups = model.extract_feat(query)
    level_sizes = [len(level) for level in groups]
    num_maps = sum(level_sizes)
    maps = _names('feat', num_maps)
    encoder_axes = {'img': {0: 'N', 2: 'H', 3: 'W'}}
    predictor_axes = {'logits': {0: 'B', 1: 'K', 3: 'h', 4: 'w'}}
    for i in range(num_maps):
        encoder_axes[f'feat{i}'] = {0: 'N', 2: f'h{i}', 3: f'w{i}'}
        predictor_axes[f'query_feat{i}'] = {0: 'B', 2: f'h{i}', 3: f'w{i}'}
        predictor_axes[f'support_feat{i}'] = {0: 'K', 2: f'h{i}', 3: f'w{i}'}
    for i in range(len(level_sizes)):
        predictor_axes[f'support_mask_level{i}'] = {
            0: 'K',
            2: f'mh{i}',
            3: f'mw{i}'
        }
    predictor_inputs = (
        _names('query_feat', num_maps) + _names('support_feat', num_maps) +
        _names('support_mask_level', len(level_sizes)))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the tracer's notes on checks
        torch.onnx.export(
            EncoderGraph(model), (query, ),
            osp.join(folder, GRAPH_FILES['encoder']),
            dynamo=False,
            opset_version=opset,
            input_names=['img'],
            output_names=maps,
            dynamic_axes=encoder_axes)
        support_groups = model.extract_feat(support)
        args = (*flatten_levels(groups), *flatten_levels(support_groups),
                *level_masks(masks, support_groups))
        torch.onnx.export(
            PredictorGraph(model, level_sizes),
            args,
            osp.join(folder, GRAPH_FILES['predictor']),
            dynamo=False,
            opset_version=opset,
            input_names=predictor_inputs,
            output_names=['logits'],
            dynamic_axes=predictor_axes)
    cfg.dump(osp.join(folder, CONFIG_FILE))
    return dict(
        export_format=EXPORT_FORMAT,
        hsnet_mm=__version__,
        torch=torch.__version__,
        exporter='torch.onnx.export(dynamo=False)',
        opset=opset,
        traced_size=list(size),
        dynamic_axes=dict(
            encoder=['N', 'H', 'W'], predictor=['B', 'K', 'H', 'W']),
        logits='(B, K, 2, h, w) at the decoder resolution',
        level_sizes=level_sizes,
        align_corners=bool(model.align_corners),
        inputs=dict(encoder=['img'], predictor=predictor_inputs),
        outputs=dict(encoder=maps, predictor=['logits']),
        graphs=describe_files(folder))


def check_export(model: nn.Module, folder: str, manifest: dict,
                 size: Tuple[int, int], tolerance: float) -> list:
    """Run the export with ONNX Runtime against the PyTorch model
    (``encode_decode``, its fast path): the traced size with 1 query and 1
    shot, and a smaller size with 2 queries and 3 shots.

    Returns:
        list[dict]: the cases with their largest logit difference.

    Raises:
        UserError: a difference above ``tolerance``.
    """
    from .deployed_segmentor import DeployedHSNet  # (it imports this one)
    deployed = DeployedHSNet(folder, 'onnxruntime', manifest=manifest)
    h, w = size
    cases = [((h, w), 1, 1), ((max(32, h * 3 // 4), max(32,
                                                        w * 3 // 4)), 3, 2)]
    results = []
    for case_size, shots, queries in cases:
        query, support, masks = _dummy_episode(case_size, shots, queries, 1)
        inputs = dict(
            query_img=query,
            support_imgs=support.expand(queries, *support.shape),
            support_masks=masks.expand(queries, *masks.shape))
        with torch.no_grad():
            ref = model.encode_decode(inputs).cpu()
        try:
            out = deployed.shot_logits(
                query, deployed.encode_support(support[None], masks[None]))
        except Exception as e:  # a runtime's error: a shape frozen in
            raise UserError(  # the trace, an op it cannot run, ...
                f'the exported graphs fail to run at {case_size} (H, W) '
                f'with {queries} queries and {shots} shot(s) (traced with '
                f'2 and 2 at {tuple(size)}): {type(e).__name__}: '
                f'{str(e).splitlines()[0][:300]}; this model does not '
                'export (docs/deployment.md, Backbones); nothing was '
                'written') from e
        diff = float((out - ref).abs().max()) if out.shape == ref.shape \
            else float('inf')
        results.append(
            dict(
                size=list(case_size),
                shots=shots,
                queries=queries,
                max_abs_diff=diff))
        if not diff <= tolerance:
            raise UserError(
                f'the exported graphs disagree with PyTorch at {case_size} '
                f'(H, W), {shots} shot(s): logits {tuple(out.shape)} vs '
                f'{tuple(ref.shape)}, largest difference {diff:.3g} > '
                f'{tolerance:g}; nothing was written')
    return results
