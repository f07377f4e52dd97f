# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A file-free few-shot benchmark for demos, smoke tests and CI."""
from typing import Callable, List, Optional, Sequence, Tuple, Union

from mmseg.registry import DATASETS

from ..utils.cli import UserError
from .episodic_dataset import EpisodicDataset
from .synthetic_renderer import (SyntheticRenderer, class_fold, class_name,
                                 class_specs)


@DATASETS.register_module()
class SyntheticFewShotDataset(EpisodicDataset):
    """Synthetic few-shot episodes rendered in memory, no files.

    Each class is a (colour family, shape, texture) triple (8 x 6 x 4
    possible; ``num_classes`` of them, 48 by default). An image of class
    ``c`` shows one object of ``c`` and ``num_distractors`` objects of other
    classes of the same split (by default of other colour families) on a
    cluttered background; the target is neither larger nor always on top, so
    "segment every object" or "segment the salient one" is wrong and the
    model must read the support. Fold ``f`` holds out the classes with
    ``(colour + shape) % num_folds == f`` (12 of 48 for 4 folds), which cover
    every colour, shape and texture.

    The pool has ``images_per_class`` images per class of the split; image
    ``j`` of class ``c`` is a pure function of ``(seed, c, j)`` (a few ms at
    128 px). Its name is ``'c<class>/<j>'``; :meth:`get_data_info` passes a
    :class:`SyntheticRenderer` as ``image_source`` and :class:`LoadEpisode`
    calls it instead of reading files, so the usual pipeline applies. Label
    values are ``class + 1`` (index masks, no ignore pixels).

    Args:
        data_root (str, optional): Unused; None. Defaults to None.
        num_classes (int): Number of classes (2..192). Defaults to 48.
        num_folds (int): Number of folds (>= 2). Defaults to 4.
        images_per_class (int): Pool images per class. Defaults to 100.
        img_size (int | tuple[int, int]): Image (H, W). Defaults to 128.
        num_distractors (tuple[int, int]): Min and max distractor objects.
            Defaults to (1, 3).
        distinct_colours (bool): Distractors never share the target's colour
            family. Defaults to True.
        seed (int): Seed of the images (``episode_seed`` seeds episodes).
            Defaults to 0.
        **kwargs: See :class:`EpisodicDataset` (fold, shot, mode,
            num_episodes: train defaults to the pool size, val/test to 500).
    """
    REQUIRES_DATA_ROOT = False
    DEFAULT_TEST_EPISODES = 500
    IGNORE_LABEL = None

    def __init__(self,
                 data_root: Optional[str] = None,
                 *,
                 num_classes: int = 48,
                 num_folds: int = 4,
                 images_per_class: int = 100,
                 img_size: Union[int, Tuple[int, int]] = 128,
                 num_distractors: Tuple[int, int] = (1, 3),
                 distinct_colours: bool = True,
                 seed: int = 0,
                 **kwargs) -> None:
        if not isinstance(num_folds, int) or num_folds < 2:
            raise UserError(f'num_folds must be an int >= 2, got '
                            f'{num_folds!r}')
        if images_per_class < 2:
            raise UserError(f'images_per_class must be >= 2, got '
                            f'{images_per_class}')
        lo, hi = num_distractors
        if not 0 <= lo <= hi:
            raise UserError(f'num_distractors must be (min, max) with 0 <= '
                            f'min <= max, got {num_distractors}')
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        if min(img_size) < 32:
            raise UserError(f'img_size must be at least 32, got {img_size}')
        self.num_folds = num_folds
        self.specs = class_specs(num_classes)
        self.images_per_class = int(images_per_class)
        self.img_size = tuple(img_size)
        self.num_distractors = (int(lo), int(hi))
        self.distinct_colours = distinct_colours
        self.seed = int(seed)
        self._renderer: Optional[SyntheticRenderer] = None
        super().__init__(data_root, **kwargs)

    def _extra_metainfo(self) -> dict:
        return dict(classes=tuple(class_name(s) for s in self.specs))

    def class_split(self, fold: int, mode: str) -> Sequence[int]:
        folds = [class_fold(s, self.num_folds) for s in self.specs]
        if mode == 'train':
            return [c for c, f in enumerate(folds) if f != fold]
        return [c for c, f in enumerate(folds) if f == fold]

    def load_data_list(self) -> List[dict]:
        # Class-interleaved, so that any run of episodes covers the classes.
        return [
            dict(name=SyntheticRenderer.image_name(c, j), class_id=c)
            for j in range(self.images_per_class) for c in self.split_class_ids
        ]

    def _pool_source(self) -> str:
        return 'the synthetic pool (images_per_class)'

    def seg_name_of(self, name: str) -> str:
        return name

    def abs_path(self, name: str) -> str:
        return name

    def _image_source(self) -> Callable:
        if self._renderer is None:
            self._renderer = SyntheticRenderer(self.seed, self.img_size,
                                               self.specs,
                                               self.split_class_ids,
                                               self.num_distractors,
                                               self.distinct_colours)
        return self._renderer
