# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""``DeployedHSNet``: an exported HSNet behind the segmentor contract.

It has what the inference API needs of a segmentor (docs/reuse.md):
``cfg``, ``data_preprocessor``, ``encode_support`` and ``predict(...,
support=...)``, so ``inference_episode``, ``FewShotInferencer`` and the
demos run an export as they run the PyTorch model, and the predictions are
packed by the same :func:`pack_episode_predictions` (the K-shot vote and
the resize to the original size).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``B`` queries,
``Bs`` support sets, ``K`` shots, ``H, W`` input size, ``C_l, h_l, w_l``
a feature map's channels and size.
"""
import os.path as osp
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import OptSampleList, SampleList

from ..models.segmentors.prediction_packer import (pack_episode_predictions,
                                                   resize_shot_logits)
from ..structures import (EpisodeInputs, SupportFeatures,
                          check_episode_tensors, check_support_shapes)
from ..utils.cli import UserError
from .backends import open_session
from .graphs import flatten_levels, group_levels, level_masks
from .manifest import CONFIG_FILE, GRAPH_FILES, model_summary, read_manifest


class DeployedHSNet(nn.Module):
    """Run an export directory with ONNX Runtime or OpenVINO.

    Args:
        export_dir (str): from ``tools/deployment/pytorch2onnx.py``.
        backend (str): ``'onnxruntime'`` or ``'openvino'``. Defaults to
            'onnxruntime'.
        cfg (Config, optional): the config the caller expects; refused if
            its model differs from the exported one. Defaults to None (the
            export's own config).
        threads (int, optional): runtime threads. Defaults to None (all
            cores or ``OMP_NUM_THREADS``).
        precision (str): ``'fp32'``, or ``'bf16'`` (OpenVINO). Defaults to
            'fp32'.
        manifest (dict, optional): the manifest, not read from the folder
            (the exporter's check). Defaults to None.
    """

    def __init__(self,
                 export_dir: str,
                 backend: str = 'onnxruntime',
                 cfg: Optional[Config] = None,
                 threads: Optional[int] = None,
                 precision: str = 'fp32',
                 manifest: Optional[dict] = None) -> None:
        super().__init__()
        # (a manifest given: the exporter's check, before deploy.json)
        self.manifest = manifest or read_manifest(export_dir)
        own = Config.fromfile(osp.join(export_dir, CONFIG_FILE))
        if cfg is not None and model_summary(
                cfg.model.to_dict()) != model_summary(own.model.to_dict()):
            raise UserError(
                f'{export_dir} was exported from another model config than '
                'the one given: pass the export alone, or the config it was '
                f'exported from ({osp.join(export_dir, CONFIG_FILE)})')
        self.cfg = cfg if cfg is not None else own
        self.export_dir = export_dir
        self.backend = backend
        self.level_sizes = self.manifest['level_sizes']
        self.align_corners = self.manifest['align_corners']
        self.data_preprocessor = MODELS.build(self.cfg.model.data_preprocessor)
        self.encoder = open_session(
            backend,
            osp.join(export_dir, GRAPH_FILES['encoder']),
            threads=threads,
            precision=precision)
        self.predictor = open_session(
            backend,
            osp.join(export_dir, GRAPH_FILES['predictor']),
            threads=threads,
            precision=precision)

    def extract_feat(self, imgs: torch.Tensor) -> List[List[torch.Tensor]]:
        """The encoder graph on images (N, 3, H, W): maps grouped by
        level, deepest first (float32 CPU tensors)."""
        if imgs.dim() != 4 or imgs.shape[1] != 3:
            raise ValueError(
                f'images must be (N, 3, H, W), got {tuple(imgs.shape)}')
        maps = self.encoder.run({'img': _array(imgs)})
        return group_levels([torch.from_numpy(m) for m in maps],
                            self.level_sizes)

    def encode_support(self, support_imgs: torch.Tensor,
                       support_masks: torch.Tensor) -> SupportFeatures:
        """Encode one support set: images (1, K, 3, H, W), masks (1, K, H,
        W) 0/1 (an export's predictor takes one set per call)."""
        check_support_shapes(support_imgs, support_masks)
        if support_imgs.shape[0] != 1:
            raise ValueError(
                'an exported model encodes one support set at a time: '
                f'support_imgs must be (1, K, 3, H, W), got '
                f'{tuple(support_imgs.shape)}')
        return SupportFeatures(
            feats=self.extract_feat(support_imgs[0]),
            masks=support_masks[0].float().cpu(),
            num_shots=support_imgs.shape[1],
            batch_size=1)

    def decoder_logits(self, query_img: torch.Tensor,
                       support: SupportFeatures) -> torch.Tensor:
        """Per-shot logits (B, K, 2, h, w) at the decoder's resolution of
        B queries (B, 3, H, W): the predictor graph's output."""
        support.check_queries(query_img.shape[0], query_img.shape[-2:])
        query_maps = flatten_levels(self.extract_feat(query_img))
        inputs = (*query_maps, *flatten_levels(support.feats),
                  *level_masks(support.masks, support.feats))
        feeds = dict(
            zip(self.predictor.input_names, [_array(t) for t in inputs]))
        return torch.from_numpy(self.predictor.run(feeds)[0])

    def shot_logits(self, query_img: torch.Tensor,
                    support: SupportFeatures) -> torch.Tensor:
        """Per-shot logits (B, K, 2, H, W) of B queries (B, 3, H, W), at
        the input size (resized on the host, as ``HSNet.encode_decode``)."""
        return resize_shot_logits(
            self.decoder_logits(query_img, support), query_img.shape[-2:],
            self.align_corners)

    def encode_decode(self, inputs: EpisodeInputs) -> torch.Tensor:
        """Per-shot logits (B, K, 2, H, W) of a batch of episodes (each
        with its own supports), as ``HSNet.encode_decode``."""
        masks = check_episode_tensors(**inputs)
        inputs = dict(inputs, support_masks=masks)
        query = inputs['query_img']
        return resize_shot_logits(
            self._decoder_logits(inputs), query.shape[-2:], self.align_corners)

    def _decoder_logits(self, inputs: EpisodeInputs) -> torch.Tensor:
        """(B, K, 2, h, w) of a batch of episodes, one episode a call."""
        out = []
        for b in range(inputs['query_img'].shape[0]):
            support = self.encode_support(inputs['support_imgs'][b:b + 1],
                                          inputs['support_masks'][b:b + 1])
            out.append(
                self.decoder_logits(inputs['query_img'][b:b + 1], support))
        return torch.cat(out)

    def predict(self,
                inputs: EpisodeInputs,
                data_samples: OptSampleList = None,
                support: Optional[SupportFeatures] = None) -> SampleList:
        """As ``HSNet.predict``: the decoder's logits packed by the same
        :func:`pack_episode_predictions` (resize, vote)."""
        query = inputs['query_img']
        if support is None:
            masks = check_episode_tensors(**inputs)
            logits = self._decoder_logits(dict(inputs, support_masks=masks))
        else:
            logits = self.decoder_logits(query, support)
        return pack_episode_predictions(logits, data_samples,
                                        self.align_corners, query.shape[-2:])

    def forward(self,
                inputs: EpisodeInputs,
                data_samples: OptSampleList = None,
                mode: str = 'predict'):
        """``'predict'`` or ``'tensor'`` (per-shot logits), as mmseg's
        segmentors; an export cannot be trained (``'loss'``)."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.encode_decode(inputs)
        raise UserError(f'an exported model runs mode "predict" or '
                        f'"tensor", not {mode!r} (it cannot be trained)')

    def __repr__(self) -> str:
        return (f'DeployedHSNet({self.export_dir!r}, '
                f'backend={self.backend!r})')


def _array(t: torch.Tensor) -> np.ndarray:
    """A contiguous float32 CPU array of a tensor."""
    return np.ascontiguousarray(t.detach().float().cpu().numpy())
