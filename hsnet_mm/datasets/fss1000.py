# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""FSS-1000 (Li et al., https://arxiv.org/abs/1907.12347).

Protocol of juhongm999/hsnet ``data/fss.py``: class lists ``{trn,val,test}
.txt`` (520/240/240 categories), sorted; every image of the split is a query
once; grayscale masks thresholded at 128.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence

from mmseg.registry import DATASETS

from ..utils.cli import UserError
from .episodic_dataset import EpisodicDataset

#: Split file of each mode, and the class-id offset of its categories.
FSS_SPLITS = dict(train='trn', val='val', test='test')
FSS_OFFSETS = dict(trn=0, val=520, test=760)


def read_category_list(path: str) -> List[str]:
    """Read a category list (one name a line), sorted as the official does.

    Args:
        path (str): The list file.

    Returns:
        list[str]: Sorted category names.
    """
    with open(path) as f:
        return sorted(line.strip() for line in f if line.strip())


@DATASETS.register_module()
class FSS1000Dataset(EpisodicDataset):
    """FSS-1000 few-shot episodes.

    ``data_root`` holds ``<category>/<n>.jpg`` and ``<n>.png`` (n = 1..10;
    masks are grayscale, >= 128 is the object). The class id of a category is
    its index in the sorted split list plus the split's offset (trn 0, val
    520, test 760), so ``metainfo['classes']`` lists the 1000 categories as
    sorted trn + sorted val + sorted test. Each mode reads its own list
    (train: ``trn.txt``); every image is a query once, in sorted path order
    (``1.jpg, 10.jpg, 2.jpg...`` as the official glob), so val/test default
    to all 2400 images. With ``episode_sampling='official'`` supports are
    drawn from ``1.jpg``..``10.jpg`` exactly as the official code. FSS has no
    folds: ``fold`` must be 0.

    Args:
        data_root (str): The FSS-1000 folder.
        split_dir (str): Folder with ``trn.txt``, ``val.txt`` and
            ``test.txt`` (official ``data/splits/fss``). Relative paths are
            relative to ``data_root``. Defaults to 'splits/fss'.
        **kwargs: See :class:`EpisodicDataset`.
    """
    num_folds = 1
    SUPPORTS_OFFICIAL = True
    MASK_MODE = 'threshold'
    IGNORE_LABEL = None

    def __init__(self,
                 data_root: str,
                 *,
                 split_dir: str = 'splits/fss',
                 **kwargs) -> None:
        super().__init__(data_root, split_dir=split_dir, **kwargs)

    def _list_path(self, split: str) -> str:
        return osp.join(self.split_dir, f'{split}.txt')

    def _check_files(self, data_root: str) -> None:
        self._categories: Dict[str, List[str]] = {}
        for split in FSS_OFFSETS:
            path = self._list_path(split)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'FSS1000Dataset: split file {path} is missing (copy the '
                    f'official data/splits/fss lists)')
            self._categories[split] = read_category_list(path)
        for split, offset in FSS_OFFSETS.items():
            if len(self._categories[split]) > 1000 - offset:
                raise UserError(f'{self._list_path(split)} lists '
                                f'{len(self._categories[split])} categories,'
                                f' more than FSS-1000 has room for')
        split = FSS_SPLITS[self.mode]
        for cat in self._categories[split]:
            if not osp.isdir(osp.join(data_root, cat)):
                raise FileNotFoundError(
                    f'FSS1000Dataset: category folder '
                    f'{osp.join(data_root, cat)} (listed in '
                    f'{self._list_path(split)}) is missing')

    def _extra_metainfo(self) -> dict:
        classes = [''] * 1000
        for split, offset in FSS_OFFSETS.items():
            for i, cat in enumerate(self._categories[split]):
                classes[offset + i] = cat
        return dict(classes=tuple(classes))

    def class_split(self, fold: int, mode: str) -> Sequence[int]:
        split = FSS_SPLITS[mode]
        start = FSS_OFFSETS[split]
        return range(start, start + len(self._categories[split]))

    def _pool_source(self) -> str:
        return self.data_root

    def load_data_list(self) -> List[dict]:
        """Every ``.jpg`` of the split's categories, sorted as the official."""
        split = FSS_SPLITS[self.mode]
        offset = FSS_OFFSETS[split]
        records = []
        for i, cat in enumerate(self._categories[split]):
            files = sorted(os.listdir(osp.join(self.data_root, cat)))
            records.extend(
                dict(name=f'{cat}/{f}', class_id=offset + i) for f in files
                if f.split('.')[1:2] == ['jpg'])
        return records

    def _official_candidates(self, class_id: int, query: str,
                             class_names: List[str]) -> List[str]:
        folder = query.rsplit('/', 1)[0]
        return [f'{folder}/{n}.jpg' for n in range(1, 11)]

    def seg_name_of(self, name: str) -> str:
        return osp.splitext(name)[0] + '.png'
