# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""COCO-20i (Nguyen & Todorovic, https://arxiv.org/abs/1908.06391).

Protocol of juhongm999/hsnet ``data/coco.py``: 4 interleaved folds of 20
classes; split files ``{trn,val}/fold{f}.pkl`` hold ``{class 0..79: [image
paths relative to data_root]}``. JSON files with string keys work too.
"""
import json
import os.path as osp
import pickle
from typing import Dict, List

from mmseg.registry import DATASETS

from ..utils.cli import UserError
from .episodic_dataset import EpisodicDataset

COCO_CLASSES = ('person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus',
                'train', 'truck', 'boat', 'traffic light', 'fire hydrant',
                'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
                'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra',
                'giraffe', 'backpack', 'umbrella', 'handbag', 'tie',
                'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball',
                'kite', 'baseball bat', 'baseball glove', 'skateboard',
                'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup',
                'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
                'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza',
                'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
                'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
                'keyboard', 'cell phone', 'microwave', 'oven', 'toaster',
                'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
                'teddy bear', 'hair drier', 'toothbrush')


def read_coco_split(path: str) -> Dict[int, List[str]]:
    """Read a ``{class: [rel paths]}`` split from ``.pkl`` or ``.json``.

    Args:
        path (str): The split file.

    Returns:
        dict[int, list[str]]: Class id (0..79) to image paths, file order.

    Raises:
        ValueError: the file is not such a dict or names a bad class.
    """
    if path.endswith('.json'):
        with open(path) as f:
            raw = json.load(f)
    else:
        with open(path, 'rb') as f:
            raw = pickle.load(f)
    if not isinstance(raw, dict):
        raise UserError(f'{path}: expected a dict {{class: [paths]}}, got '
                        f'{type(raw).__name__}')
    split = {}
    for key, names in raw.items():
        try:
            c = int(key)
        except (TypeError, ValueError):
            raise UserError(f'{path}: class key {key!r} is not an int')
        if not 0 <= c < len(COCO_CLASSES):
            raise UserError(f'{path}: class {c} is outside 0..79')
        split[c] = [str(n) for n in names]
    return split


@DATASETS.register_module()
class COCO20iDataset(EpisodicDataset):
    """COCO-20i few-shot episodes.

    ``data_root`` holds ``train2014/``, ``val2014/`` and ``annotations/<image
    path>.png`` (index PNGs: class + 1 in the contiguous 80-class order, 0
    background), as written by ``tools/dataset_converters/coco20i.py``. Fold
    ``f`` tests the classes ``f, f+4, ..., f+76``; training reads
    ``trn/fold{f}``, val/test read ``val/fold{f}``. An episode draws a class
    uniformly, then a query of that class (official); training epochs default
    to the number of distinct images, val/test to 1000 episodes.

    Args:
        data_root (str): The COCO2014 folder.
        split_dir (str): Folder with ``{trn,val}/fold{0..3}.{pkl,json}``
            (``.pkl`` wins). Relative paths are relative to ``data_root``.
            Defaults to 'splits/coco'.
        **kwargs: See :class:`EpisodicDataset`.
    """
    METAINFO = dict(classes=COCO_CLASSES)
    num_folds = 4
    QUERY_SAMPLING = 'class_first'
    DEFAULT_TEST_EPISODES = 1000
    SUPPORTS_OFFICIAL = True
    IGNORE_LABEL = None
    ANN_DIR = 'annotations'

    def __init__(self,
                 data_root: str,
                 *,
                 split_dir: str = 'splits/coco',
                 **kwargs) -> None:
        super().__init__(data_root, split_dir=split_dir, **kwargs)

    @classmethod
    def test_class_ids(cls, fold: int) -> List[int]:
        """The 20 held-out classes of ``fold`` (interleaved)."""
        return [fold + 4 * v for v in range(20)]

    def _split_file(self) -> str:
        sub = 'trn' if self.mode == 'train' else 'val'
        stem = osp.join(self.split_dir, sub, f'fold{self.fold}')
        for ext in ('.pkl', '.json'):
            if osp.isfile(stem + ext):
                return stem + ext
        raise FileNotFoundError(
            f'COCO20iDataset: split file {stem}.pkl (or .json) is missing; '
            f'copy the official data/splits/coco lists or generate them with '
            f'tools/dataset_converters/coco20i.py')

    def _check_files(self, data_root: str) -> None:
        self._split_file()

    def _pool_source(self) -> str:
        return self._split_file()

    def load_data_list(self) -> List[dict]:
        """(image, class) records of the fold's classes, file order."""
        split = read_coco_split(self._split_file())
        records = []
        for c in sorted(split):
            if not split[c]:
                continue
            records.extend(dict(name=n, class_id=c) for n in split[c])
        return records

    def _default_num_episodes(self) -> int:
        if self.mode == 'train':
            return self._num_unique
        return super()._default_num_episodes()

    def seg_name_of(self, name: str) -> str:
        return f'{self.ANN_DIR}/{osp.splitext(name)[0]}.png'
