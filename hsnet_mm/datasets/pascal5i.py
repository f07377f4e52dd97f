# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""PASCAL-5i (Shaban et al., https://arxiv.org/abs/1709.03410).

Protocol of juhongm999/hsnet ``data/pascal.py``: 4 folds of 5 contiguous
classes; split lists ``{trn,val}/fold{f}.txt`` with lines ``<name>__<cls>``
(cls 1-based).
"""
import os.path as osp
from typing import List

from mmseg.registry import DATASETS

from ..utils.cli import UserError
from .episodic_dataset import EpisodicDataset

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
               'tvmonitor')


def read_pascal_split(path: str) -> List[dict]:
    """Read a ``<name>__<cls>`` list into ``dict(stem, class_id)`` records.

    Args:
        path (str): The split file.

    Returns:
        list[dict]: Records in file order, ``class_id`` 0-based.

    Raises:
        ValueError: a line is malformed or names a class outside 1..20.
    """
    records = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            stem, sep, cls = line.rpartition('__')
            if not sep or not stem or not cls.isdigit() or not (
                    1 <= int(cls) <= len(VOC_CLASSES)):
                raise UserError(f'{path}:{lineno}: expected '
                                f'"<name>__<class 1..20>", got {line!r}')
            records.append(dict(stem=stem, class_id=int(cls) - 1))
    return records


@DATASETS.register_module()
class PASCAL5iDataset(EpisodicDataset):
    """PASCAL-5i few-shot episodes.

    ``data_root`` is the ``VOC2012`` folder with ``JPEGImages/*.jpg`` and
    ``SegmentationClassAug/*.png`` (index PNGs, 255 = boundary, see
    ``tools/dataset_converters/pascal5i.py``). Fold ``f`` tests the 0-based
    classes ``5f..5f+4``; training on fold ``f`` reads the ``trn`` lists of
    the three other folds, val/test read ``val/fold{f}.txt``. The query is
    the split line ``i % len(lines)``; val/test default to the official 1000
    episodes. ``episode_sampling='official'`` replays the official episodes
    name for name.

    Args:
        data_root (str): The VOC2012 folder.
        split_dir (str): Folder with ``{trn,val}/fold{0..3}.txt`` (the
            official ``data/splits/pascal``). Relative paths are relative to
            ``data_root``. Defaults to 'splits/pascal'.
        **kwargs: See :class:`EpisodicDataset` (fold, shot, mode,
            num_episodes, episode_seed, episode_sampling, pipeline...).
    """
    METAINFO = dict(classes=VOC_CLASSES)
    num_folds = 4
    DEFAULT_TEST_EPISODES = 1000
    SUPPORTS_OFFICIAL = True
    IMG_DIR = 'JPEGImages'
    ANN_DIR = 'SegmentationClassAug'

    def __init__(self,
                 data_root: str,
                 *,
                 split_dir: str = 'splits/pascal',
                 **kwargs) -> None:
        super().__init__(data_root, split_dir=split_dir, **kwargs)

    @classmethod
    def test_class_ids(cls, fold: int) -> List[int]:
        """The 5 held-out classes of ``fold`` (contiguous)."""
        return list(range(5 * fold, 5 * fold + 5))

    def _split_files(self) -> List[str]:
        if self.mode == 'train':
            return [
                osp.join(self.split_dir, 'trn', f'fold{f}.txt')
                for f in range(self.num_folds) if f != self.fold
            ]
        return [osp.join(self.split_dir, 'val', f'fold{self.fold}.txt')]

    def _check_files(self, data_root: str) -> None:
        for sub in (self.IMG_DIR, self.ANN_DIR):
            if not osp.isdir(osp.join(data_root, sub)):
                raise FileNotFoundError(
                    f'PASCAL5iDataset: {osp.join(data_root, sub)} is missing;'
                    f' data_root must be the VOC2012 folder with '
                    f'{self.IMG_DIR}/ and {self.ANN_DIR}/')
        for path in self._split_files():
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'PASCAL5iDataset: split file {path} is missing (copy '
                    f'the official data/splits/pascal lists, see '
                    f'docs/dataset_prepare.md)')

    def _pool_source(self) -> str:
        return ', '.join(self._split_files())

    def load_data_list(self) -> List[dict]:
        """Lines of the split files, in official order."""
        records = []
        for path in self._split_files():
            for rec in read_pascal_split(path):
                records.append(
                    dict(
                        name=f'{self.IMG_DIR}/{rec["stem"]}.jpg',
                        class_id=rec['class_id']))
        return records

    def seg_name_of(self, name: str) -> str:
        stem = osp.splitext(osp.basename(name))[0]
        return f'{self.ANN_DIR}/{stem}.png'
