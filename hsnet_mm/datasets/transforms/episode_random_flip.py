# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Random horizontal flips of an episode's images (training only)."""
from typing import List

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ...utils.cli import UserError


@TRANSFORMS.register_module()
class EpisodeRandomFlip(BaseTransform):
    """Flip the query and each support horizontally, each with ``prob``.

    Each image is flipped with its mask, independently of the others (a
    flipped support still shows the class). The draws come from
    ``np.random.default_rng(results['rng_seed'] + [salt])`` when the dataset
    gives ``rng_seed`` (episodes stay a pure function of seed, epoch and
    index), else from the global ``np.random``. The official HSNet trains
    without augmentation, so the shipped configs leave this out.

    Required keys: ``query_img``, ``support_imgs``, ``support_masks``;
    optional ``query_mask``, ``rng_seed``. Added key: ``flip`` (list of K+1
    bools: query, then supports).

    Args:
        prob (float): Flip probability of each image. Defaults to 0.5.
        salt (int): Mixed into the seed so that several random transforms
            draw differently. Defaults to 1.
    """

    def __init__(self, prob: float = 0.5, salt: int = 1) -> None:
        if not 0 <= prob <= 1:
            raise UserError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.salt = int(salt)

    def _draws(self, results: dict, n: int) -> List[bool]:
        seed = results.get('rng_seed')
        if seed is None:
            draws = np.random.rand(n)
        else:
            rng = np.random.default_rng([*map(int, seed), self.salt])
            draws = rng.random(n)
        return [bool(d < self.prob) for d in draws]

    def transform(self, results: dict) -> dict:
        """Flip images and masks in place of the old arrays."""
        k = len(results['support_imgs'])
        flips = self._draws(results, k + 1)
        if flips[0]:
            results['query_img'] = results['query_img'][:, ::-1].copy()
            if 'query_mask' in results:
                results['query_mask'] = results['query_mask'][:, ::-1].copy()
        for i in range(k):
            if flips[i + 1]:
                results['support_imgs'][i] = (
                    results['support_imgs'][i][:, ::-1].copy())
                results['support_masks'][i] = (
                    results['support_masks'][i][:, ::-1].copy())
        results['flip'] = flips
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob}, salt={self.salt})'
