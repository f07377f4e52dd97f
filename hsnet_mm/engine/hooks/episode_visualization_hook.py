# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Save one PNG per test episode: supports, prediction and ground truth."""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

from ...evaluation import episode_intersect_union
from ...visualization import denormalize, save_episode_png


@HOOKS.register_module()
class EpisodeVisualizationHook(Hook):
    """Draw test episodes with :func:`~hsnet_mm.visualization.draw_episode`.

    mmseg's ``SegVisualizationHook`` reads one image per sample from its
    ``img_path``; an episode is a query and K supports, possibly rendered in
    memory, so this hook draws from the batch itself. After each test
    iteration it writes, per episode, ``<out_dir>/episode_<idx>.png``: the
    supports with their masks, the query with the prediction and the query
    with the ground truth, titled with the class and the episode's
    foreground IoU. ``tools/test.py --show-dir DIR`` turns it on.

    Images are taken from ``data_batch['inputs']``: uint8 as the pipeline
    packs them, or, when already normalised (float), denormalised with the
    model's data preprocessor ``mean``/``std``.

    Args:
        draw (bool): Draw at all. Defaults to False (a config keeps the hook
            in ``default_hooks`` and the tool switches it on).
        out_dir (str, optional): Folder of the PNGs. Defaults to None:
            ``<log_dir>/vis_episodes``.
        interval (int): Draw every ``interval``-th test iteration.
            Defaults to 1.
    """

    priority = 'NORMAL'

    def __init__(self,
                 draw: bool = False,
                 out_dir: Optional[str] = None,
                 interval: int = 1) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.draw = draw
        self.out_dir = out_dir
        self.interval = interval

    def before_test(self, runner) -> None:
        """Resolve the output folder."""
        if self.out_dir is None:
            self.out_dir = osp.join(runner.log_dir, 'vis_episodes')

    def after_test_iter(
            self,
            runner,
            batch_idx: int,
            data_batch: Optional[dict] = None,
            outputs: Optional[Sequence[SegDataSample]] = None) -> None:
        """Save the episodes of one test batch."""
        if not self.draw or data_batch is None or not outputs:
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        inputs = data_batch['inputs']
        for i, sample in enumerate(outputs):
            self._save(runner, inputs['query_img'][i],
                       inputs['support_imgs'][i], inputs['support_masks'][i],
                       sample, f'{batch_idx}_{i}')

    def _to_rgb(self, runner, img: torch.Tensor) -> np.ndarray:
        """(3, H, W) uint8 or normalised float -> (H, W, 3) uint8."""
        if img.dtype == torch.uint8:
            return img.detach().cpu().permute(1, 2, 0).numpy()
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        pre = model.data_preprocessor
        return denormalize(img,
                           pre.mean.flatten().tolist(),
                           pre.std.flatten().tolist())

    def _save(self, runner, query: torch.Tensor, supports: torch.Tensor,
              support_masks: torch.Tensor, sample: SegDataSample,
              fallback_name: str) -> None:
        """Draw and save one episode."""
        meta = sample.metainfo
        idx = meta.get('episode_idx', meta.get('sample_idx'))
        name = (f'episode_{idx:05d}.png'
                if isinstance(idx, int) else f'batch_{fallback_name}.png')
        pred = sample.pred_sem_seg.data[0].cpu().numpy()
        gt = None
        title = f'episode {idx}  class {meta.get("class_id")}'
        classes = (runner.test_dataloader.dataset.metainfo
                   or {}).get('classes') or ()
        class_id = meta.get('class_id')
        if class_id is not None and 0 <= class_id < len(classes):
            title += f' ({classes[class_id]})'
        if 'gt_sem_seg' in sample:
            gt = sample.gt_sem_seg.data[0].cpu().numpy()
            if gt.shape == pred.shape:
                _, inter, _, union = episode_intersect_union(pred, gt)
                title += f'  IoU {100.0 * inter / max(union, 1):.1f}'
        save_episode_png(
            osp.join(self.out_dir, name),
            query_img=self._to_rgb(runner, query),
            support_imgs=[self._to_rgb(runner, s) for s in supports],
            support_masks=[m.cpu().numpy() for m in support_masks],
            gt_mask=gt,
            pred_mask=pred.astype(np.uint8),
            title=title)
