# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A config's test pipeline applied to episodes already in memory.

The dataset pipelines start with ``LoadEpisode`` (reads files); the user's
images are loaded by :mod:`.episode_inputs` instead, so the pipeline runs
from the step after it (``ResizeEpisode``, ``PackEpisodeInputs``): the same
registered transforms as the config's test set.
"""
import copy
from typing import List, Optional, Sequence

from mmseg.registry import TRANSFORMS

#: Transforms of a dataset pipeline that read files; the API replaces them.
LOADING_TRANSFORMS = ('LoadEpisode', )
#: Training-only transforms a test pipeline should not have.
TRAIN_ONLY_TRANSFORMS = ('EpisodeRandomFlip', )


def test_pipeline_cfg(cfg) -> List[dict]:
    """The test-time pipeline of a config, without its loading step.

    Read from ``test_dataloader.dataset.pipeline`` (else
    ``val_dataloader``'s).

    Args:
        cfg (Config): The model's config (``model.cfg`` of
            :func:`init_model`).

    Returns:
        list[dict]: transform configs, e.g. ``[ResizeEpisode,
        PackEpisodeInputs]``.
    """
    for loader in ('test_dataloader', 'val_dataloader'):
        pipeline = cfg.get(loader, {}).get('dataset', {}).get('pipeline')
        if pipeline:
            break
    else:
        raise ValueError('the config has no test_dataloader.dataset.pipeline '
                         '(nor val_dataloader): cannot tell the input size')
    steps = [
        copy.deepcopy(dict(t)) for t in pipeline
        if t['type'] not in LOADING_TRANSFORMS + TRAIN_ONLY_TRANSFORMS
    ]
    if not steps or steps[-1]['type'] != 'PackEpisodeInputs':
        raise ValueError('the test pipeline must end with PackEpisodeInputs, '
                         f'got {[t["type"] for t in pipeline]}')
    return steps


class EpisodePipeline:
    """Apply a config's test pipeline to in-memory episodes.

    Args:
        cfg (Config): A config with a test (or val) dataloader pipeline.
    """

    def __init__(self, cfg) -> None:
        self.transforms = [TRANSFORMS.build(t) for t in test_pipeline_cfg(cfg)]

    def __call__(self,
                 query_img,
                 support_imgs: Sequence,
                 support_masks: Sequence,
                 meta: Optional[dict] = None) -> dict:
        """Packed episode (``inputs`` + ``data_samples``) of loaded arrays.

        Args:
            query_img (np.ndarray): (H0, W0, 3) uint8 RGB.
            support_imgs (Sequence[np.ndarray]): K (Hk, Wk, 3) uint8.
            support_masks (Sequence[np.ndarray]): K (Hk, Wk) uint8 0/1.
            meta (dict, optional): extra metainfo (``img_path``...).

        Returns:
            dict: the output of ``PackEpisodeInputs``.
        """
        results = dict(
            query_img=query_img,
            support_imgs=list(support_imgs),
            support_masks=list(support_masks),
            ori_shape=query_img.shape[:2],
            img_shape=query_img.shape[:2],
            shot=len(support_imgs),
            **(meta or {}))
        for t in self.transforms:
            results = t(results)
        return results
