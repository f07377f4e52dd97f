# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Few-shot episodes from a user's folder of images and masks."""
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from mmseg.registry import DATASETS
from PIL import Image

from ..structures import IGNORE_INDEX
from .episodic_dataset import EpisodicDataset

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def _scan(folder: str, extensions: Sequence[str]) -> Dict[str, str]:
    """Map each file's path stem (relative to ``folder``) to its path."""
    found = {}
    for root, _, files in os.walk(folder):
        for f in sorted(files):
            stem, ext = osp.splitext(f)
            if ext.lower() in extensions:
                rel = osp.relpath(osp.join(root, f), folder)
                found[osp.splitext(rel)[0].replace(os.sep, '/')] = rel
    return dict(sorted(found.items()))


@DATASETS.register_module()
class FolderFewShotDataset(EpisodicDataset):
    """Episodes from ``images/`` and ``masks/`` matched by file stem.

    Two mask kinds:

    - ``classes=None``: binary masks (0/255 or 0/1; any nonzero pixel is the
      object), all images form one class named ``binary_class_name``.
    - ``classes`` given: class-index PNGs. A list of names maps to the
      values 1..N, a dict gives ``{name: value}``; 255 is ignored, other
      values are background. Masks are scanned once at construction to list
      each image under every class it shows (at least ``min_pixels``).

    There are no folds (``fold`` must be 0). Training uses ``train_classes``,
    val/test use ``test_classes``; both default to every class. Every image
    needs a mask; masks without an image are ignored. Val/test default to
    one episode per (image, class) pair.

    Args:
        data_root (str): The folder.
        img_dir (str): Image sub-folder (searched recursively). Defaults to
            'images'.
        mask_dir (str): Mask sub-folder (``.png``). Defaults to 'masks'.
        classes (Sequence[str] | Mapping[str, int], optional): Class names
            of index masks. Defaults to None (binary masks).
        train_classes (Sequence[str], optional): Classes of training
            episodes. Defaults to None (all).
        test_classes (Sequence[str], optional): Classes of val/test episodes.
            Defaults to None (all).
        binary_class_name (str): Name of the class of binary masks. Defaults
            to 'object'.
        min_pixels (int): Pixels a class needs in a mask to list the image
            under it. Defaults to 1.
        **kwargs: See :class:`EpisodicDataset`.
    """
    num_folds = 1

    def __init__(self,
                 data_root: str,
                 *,
                 img_dir: str = 'images',
                 mask_dir: str = 'masks',
                 classes: Optional[Union[Sequence[str], Mapping[str,
                                                                int]]] = None,
                 train_classes: Optional[Sequence[str]] = None,
                 test_classes: Optional[Sequence[str]] = None,
                 binary_class_name: str = 'object',
                 min_pixels: int = 1,
                 **kwargs) -> None:
        self.img_dir, self.mask_dir = img_dir, mask_dir
        self.binary = classes is None
        if self.binary:
            self.class_values = {binary_class_name: 1}
        elif isinstance(classes, Mapping):
            self.class_values = {str(k): int(v) for k, v in classes.items()}
        else:
            self.class_values = {str(n): i + 1 for i, n in enumerate(classes)}
        values = list(self.class_values.values())
        if len(set(values)) != len(values) or not all(0 < v < 255
                                                      for v in values):
            raise ValueError(f'class values must be distinct and in 1..254, '
                             f'got {self.class_values}')
        self.class_names = tuple(self.class_values)
        self._train_names = self._check_names(train_classes, 'train_classes')
        self._test_names = self._check_names(test_classes, 'test_classes')
        self.min_pixels = min_pixels
        super().__init__(data_root, **kwargs)

    def _check_names(self, names: Optional[Sequence[str]],
                     arg: str) -> List[str]:
        if names is None:
            return list(self.class_names)
        unknown = [n for n in names if n not in self.class_values]
        if unknown:
            raise KeyError(f'{arg} names unknown classes {unknown}; known: '
                           f'{list(self.class_names)}')
        return list(names)

    def _extra_metainfo(self) -> dict:
        return dict(classes=self.class_names)

    def class_split(self, fold: int, mode: str) -> Sequence[int]:
        names = self._train_names if mode == 'train' else self._test_names
        return [self.class_names.index(n) for n in names]

    def _check_files(self, data_root: str) -> None:
        for sub in (self.img_dir, self.mask_dir):
            if not osp.isdir(osp.join(data_root, sub)):
                raise FileNotFoundError(f'FolderFewShotDataset: folder '
                                        f'{osp.join(data_root, sub)} is '
                                        f'missing')

    def load_data_list(self) -> List[dict]:
        """Pair images with masks; scan index masks for their classes."""
        img_root = osp.join(self.data_root, self.img_dir)
        mask_root = osp.join(self.data_root, self.mask_dir)
        images = _scan(img_root, IMG_EXTENSIONS)
        masks = _scan(mask_root, ('.png', ))
        missing = [images[s] for s in images if s not in masks]
        if missing:
            raise FileNotFoundError(
                f'FolderFewShotDataset: {len(missing)} image(s) have no mask '
                f'in {mask_root} (matched by stem), e.g. {missing[:3]}')
        self._seg_names = {
            f'{self.img_dir}/{images[s]}': f'{self.mask_dir}/{masks[s]}'
            for s in images
        }
        if self.binary:
            return [dict(name=n, class_id=0) for n in self._seg_names]
        wanted = {
            self.class_values[self.class_names[c]]: c
            for c in self.split_class_ids
        }
        per_class: Dict[int, List[dict]] = {c: [] for c in wanted.values()}
        for name, seg in self._seg_names.items():
            path = osp.join(self.data_root, seg)
            try:
                mask = np.asarray(Image.open(path))
            except Exception as e:
                raise OSError(f'cannot read mask {path}: {e}') from e
            if mask.ndim != 2:
                raise ValueError(f'mask {path} has shape {mask.shape}; class '
                                 f'masks must be single-channel index PNGs')
            values, counts = np.unique(mask, return_counts=True)
            for v, n in zip(values.tolist(), counts.tolist()):
                if v in wanted and n >= self.min_pixels:
                    per_class[wanted[v]].append(
                        dict(name=name, class_id=wanted[v]))
        # Class-interleaved, so that any run of episodes covers the classes.
        lists = [per_class[c] for c in sorted(per_class)]
        longest = max((len(x) for x in lists), default=0)
        return [x[i] for i in range(longest) for x in lists if i < len(x)]

    def seg_name_of(self, name: str) -> str:
        return self._seg_names[name]

    def mask_label(self, class_id: int) -> dict:
        """Binary masks: any nonzero pixel; index masks: the class value,
        with 255 ignored."""
        if self.binary:
            return dict(mask_mode='nonzero', mask_value=1, ignore_index=None)
        return dict(
            mask_mode='index',
            mask_value=self.class_values[self.class_names[class_id]],
            ignore_index=IGNORE_INDEX)
