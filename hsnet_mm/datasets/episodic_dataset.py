# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The base of every few-shot dataset: class split, pool and episodes.

Replaces the official ``sample_episode`` methods of juhongm999/hsnet
(``data/{pascal,coco,fss}.py``), whose episodes came from the global
``np.random`` and so changed with the number of workers.
"""
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS

from ..utils.cli import UserError
from .episode_sampling import (Episode, draw_support_positions, episode_rng,
                               group_by_class, replay_official)

#: The modes of a dataset: which classes and split lists it reads.
MODES = ('train', 'val', 'test')


@DATASETS.register_module()
class EpisodicDataset(BaseDataset):
    """Few-shot segmentation episodes drawn from a pool of images.

    The *pool* (``load_data_list``) holds one record
    ``dict(name=str, class_id=int)`` per (image, class) pair of the split;
    ``name`` is the image path relative to ``data_root``. Episode ``i`` has a
    class, a query and K supports of that class:

    - ``episode_sampling='random'`` (default): drawn from a generator seeded
      by ``(episode_seed, epoch, i)``. Supports differ from the query and from
      each other. Val/test episodes ignore the epoch.
    - ``'official'`` (val/test only): the official HSNet episodes, replayed
      once at construction from ``np.random.RandomState(episode_seed)``.

    The query is the pool record ``i % len(pool)`` (``QUERY_SAMPLING =
    'sequential'``, PASCAL/FSS) or a random record of a uniformly drawn class
    (``'class_first'``, COCO).

    **Fresh training episodes.** The :class:`EpisodicSampler` yields
    ``epoch * len(dataset) + i``; :meth:`get_data_info` decodes ``(epoch,
    i)``. The epoch thus travels with the index into (persistent) workers.

    :meth:`get_data_info` returns, without reading any image:
    ``episode_idx``, ``epoch``, ``class_id`` (0-based, dataset-global),
    ``shot``, ``query_name``, ``support_names`` (relative to ``data_root``),
    ``img_path``, ``seg_map_path``, ``support_img_paths``,
    ``support_seg_map_paths`` (absolute), ``mask_mode`` ('index' |
    'threshold' | 'nonzero'), ``mask_value``, ``ignore_index``,
    ``query_keep_ignore``, ``rng_seed`` (for random transforms) and
    ``image_source`` (None, or a callable ``path -> (img, label)`` that
    :class:`LoadEpisode` uses instead of files).

    **Writing a dataset.** A new dataset sets ``METAINFO['classes']``,
    ``num_folds`` and how its masks read (``MASK_MODE``, ``IGNORE_LABEL``),
    and overrides three methods: :meth:`test_class_ids` (the classes fold
    ``f`` holds out; or :meth:`class_split` for other splits),
    :meth:`load_data_list` (the pool of ``(image, class)`` records of
    ``self.split_class_ids``) and :meth:`seg_name_of` (an image's mask).
    Episodes, folds, the official replay and the checks come from here::

        @DATASETS.register_module()
        class ShapesDataset(EpisodicDataset):
            # images/<class>/*.jpg with masks/<class>/*.png (0/255)
            METAINFO = dict(classes=('circle', 'square', 'star', 'heart'))
            num_folds = 2  # fold f holds out 2 of the 4 classes
            MASK_MODE = 'nonzero'  # any nonzero mask pixel is the object
            IGNORE_LABEL = None

            @classmethod
            def test_class_ids(cls, fold):
                return [2 * fold, 2 * fold + 1]

            def load_data_list(self):
                records = []
                for c in self.split_class_ids:
                    name = self.METAINFO['classes'][c]
                    folder = os.path.join(self.data_root, 'images', name)
                    records += [dict(name=f'images/{name}/{f}', class_id=c)
                                for f in sorted(os.listdir(folder))]
                return records

            def seg_name_of(self, name):
                return 'masks' + name[len('images'):-len('.jpg')] + '.png'

    The other hooks (``_check_files``, ``_extra_metainfo``,
    ``_default_num_episodes``, ``_official_candidates``, ``_image_source``,
    :meth:`mask_label`) have working defaults; the concrete datasets show
    when to override them.

    Args:
        data_root (str, optional): Dataset folder.
        fold (int): Fold whose classes are held out. Defaults to 0.
        shot (int): Number of supports K. Defaults to 1.
        mode (str): 'train', 'val' or 'test'. Defaults to 'test'.
        num_episodes (int, optional): Episodes per epoch. Defaults to None
            (train: the pool size; val/test: ``DEFAULT_TEST_EPISODES``).
        episode_seed (int): Seed of the episodes. Defaults to 0.
        episode_sampling (str): 'random' or 'official'. Defaults to 'random'.
        split_dir (str, optional): Folder of the split lists; a relative path
            is taken relative to ``data_root``. Defaults to None.
        train_ignore_boundary (bool): Keep the ignore label (255) of training
            queries instead of making it background (official). Defaults to
            False.
        pipeline (Sequence): Transforms. Defaults to ().
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments
            (``metainfo``, ``lazy_init``, ``serialize_data``, ``indices``...).
    """
    #: ``classes``: names indexed by the dataset-global class id.
    METAINFO: dict = dict(classes=())
    #: Number of folds; ``fold`` must be in ``0..num_folds - 1``.
    num_folds: int = 4
    #: 'sequential' (query = pool record ``i % len(pool)``) or
    #: 'class_first' (a uniformly drawn class, then one of its images).
    QUERY_SAMPLING = 'sequential'
    #: Val/test episodes when ``num_episodes`` is None (None: the pool).
    DEFAULT_TEST_EPISODES: Optional[int] = None
    #: Whether ``data_root`` must be an existing folder.
    REQUIRES_DATA_ROOT = True
    #: Whether ``episode_sampling='official'`` can replay official episodes.
    SUPPORTS_OFFICIAL = False
    #: How masks read: 'index' (label ``class_id + 1``), 'threshold'
    #: (>= 128, FSS-1000) or 'nonzero' (binary masks).
    MASK_MODE = 'index'
    #: Label of ignored pixels in the dataset's mask files (None: none).
    IGNORE_LABEL: Optional[int] = 255

    def __init__(self,
                 data_root: Optional[str] = None,
                 *,
                 fold: int = 0,
                 shot: int = 1,
                 mode: str = 'test',
                 num_episodes: Optional[int] = None,
                 episode_seed: int = 0,
                 episode_sampling: str = 'random',
                 split_dir: Optional[str] = None,
                 train_ignore_boundary: bool = False,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if mode not in MODES:
            raise UserError(f'mode must be one of {MODES}, got {mode!r}')
        if not isinstance(fold, int) or not 0 <= fold < self.num_folds:
            raise UserError(f'{type(self).__name__} has folds 0..'
                            f'{self.num_folds - 1}, got fold={fold!r}')
        if not isinstance(shot, int) or shot < 1:
            raise UserError(f'shot must be a positive int, got {shot!r}')
        if num_episodes is not None and (not isinstance(num_episodes, int)
                                         or num_episodes < 1):
            raise UserError(f'num_episodes must be a positive int or None, '
                            f'got {num_episodes!r}')
        if episode_sampling not in ('random', 'official'):
            raise UserError(f"episode_sampling must be 'random' or "
                            f"'official', got {episode_sampling!r}")
        if episode_sampling == 'official' and (mode == 'train'
                                               or not self.SUPPORTS_OFFICIAL):
            raise UserError(f"episode_sampling='official' replays the "
                            f'official val/test episodes; '
                            f'{type(self).__name__} mode={mode!r} has none')
        if self.REQUIRES_DATA_ROOT:
            if not data_root or not osp.isdir(data_root):
                raise FileNotFoundError(
                    f'{type(self).__name__}: data_root {data_root!r} is not '
                    f'a folder (see docs/dataset_prepare.md)')
        if split_dir is not None and data_root and not osp.isabs(split_dir):
            split_dir = osp.join(data_root, split_dir)
        self.fold, self.shot, self.mode = fold, shot, mode
        self.episode_seed = int(episode_seed)
        self.episode_sampling = episode_sampling
        self.split_dir = split_dir
        self.train_ignore_boundary = train_ignore_boundary
        self._requested_episodes = num_episodes
        self._check_files(data_root)
        self.split_class_ids = list(self.class_split(fold, mode))
        if not self.split_class_ids:
            raise UserError(f'{type(self).__name__} fold {fold} {mode} has '
                            f'no classes')
        metainfo = dict(kwargs.pop('metainfo', None) or {})
        metainfo.update(self._extra_metainfo())
        metainfo.update(fold_class_ids=tuple(self.split_class_ids), fold=fold)
        scope = None if DefaultScope.get_current_instance() else 'mmseg'
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(
                data_root=data_root or '',
                metainfo=metainfo,
                pipeline=list(pipeline),
                test_mode=mode != 'train',
                **kwargs)

    # -- hooks of the concrete datasets ------------------------------------
    @classmethod
    def test_class_ids(cls, fold: int) -> List[int]:
        """The class ids that ``fold`` holds out (val/test classes)."""
        raise NotImplementedError(
            f'{cls.__name__} must define test_class_ids() or class_split()')

    def class_split(self, fold: int, mode: str) -> Sequence[int]:
        """The class ids of the split: fold test classes or the others."""
        test = self.test_class_ids(fold)
        if mode == 'train':
            num_classes = len(self.METAINFO.get('classes', ()))
            return [c for c in range(num_classes) if c not in test]
        return test

    def load_data_list(self) -> List[dict]:
        """The pool: ``dict(name=..., class_id=...)`` records."""
        raise NotImplementedError

    def seg_name_of(self, name: str) -> str:
        """The mask path (relative to ``data_root``) of image ``name``."""
        raise NotImplementedError

    def _check_files(self, data_root: Optional[str]) -> None:
        """Cheap construction checks (folders and split files exist)."""

    def _extra_metainfo(self) -> dict:
        """Metainfo computed at construction (e.g. ``classes``)."""
        return {}

    def _image_source(self) -> Optional[Callable]:
        """A callable ``path -> (img, label)`` for in-memory datasets."""
        return None

    def _official_candidates(self, class_id: int, query: str,
                             class_names: List[str]) -> List[str]:
        """The names the official code draws supports from."""
        return class_names

    # -- pool indexing -----------------------------------------------------
    def full_init(self) -> None:
        """Load the pool, index it by class and build official episodes."""
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        self._index_pool(self.data_list)
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def _index_pool(self, records: List[dict]) -> None:
        """Per-class member arrays and the episode count, checking counts."""
        classes = np.array([r['class_id'] for r in records], dtype=np.int64)
        name_ids: Dict[str, int] = {}
        ids = np.array(
            [name_ids.setdefault(r['name'], len(name_ids)) for r in records],
            dtype=np.int64)
        unknown = sorted(set(classes.tolist()) - set(self.split_class_ids))
        if unknown:
            raise UserError(f'the pool of {type(self).__name__} lists classes '
                            f'{unknown}, which are not classes of fold '
                            f'{self.fold} {self.mode} '
                            f'({self.split_class_ids}); wrong split file?')
        self._members, self._positions = group_by_class(
            classes, ids, self.split_class_ids)
        for c, members in self._members.items():
            if len(members) < self.shot + 1:
                raise UserError(
                    f'class {c} ({self._class_name(c)}) has {len(members)} '
                    f'image(s) in {self._pool_source()}; {self.shot}-shot '
                    f'episodes need at least {self.shot + 1}')
        self._pool_classes = classes
        self._pool_size = len(records)
        self._num_unique = len(name_ids)
        n = self._requested_episodes or self._default_num_episodes()
        self._num_episodes = int(n)
        self._official: Optional[List[Episode]] = None
        if self.episode_sampling == 'official':
            self._official = replay_official(
                records, self.split_class_ids, n, self.shot,
                self.QUERY_SAMPLING == 'class_first', self.episode_seed,
                self._official_candidates)

    def _default_num_episodes(self) -> int:
        """Pool size for training, ``DEFAULT_TEST_EPISODES`` otherwise."""
        if self.mode != 'train' and self.DEFAULT_TEST_EPISODES:
            return self.DEFAULT_TEST_EPISODES
        return self._pool_size

    def _class_name(self, class_id: int) -> str:
        classes = self._metainfo.get('classes', ())
        return classes[class_id] if 0 <= class_id < len(classes) else '?'

    def _pool_source(self) -> str:
        """Where the pool came from, for error messages."""
        return self.split_dir or self.data_root or 'the generated pool'

    # -- episodes ----------------------------------------------------------
    @force_full_init
    def __len__(self) -> int:
        return self._num_episodes

    def decode_index(self, index: int) -> Tuple[int, int]:
        """Split a sampler index ``epoch * len(self) + i`` into (epoch, i).

        Val/test episodes do not depend on the epoch, so it is 0 for them.
        """
        n = len(self)
        if index < 0:
            if index < -n:
                raise IndexError(f'episode index {index} out of range')
            index += n
        epoch, index = divmod(int(index), n)
        return (epoch if self.mode == 'train' else 0), index

    @force_full_init
    def episode(self, epoch: int, index: int) -> Episode:
        """``(class_id, query_name, support_names)`` of one episode."""
        if self._official is not None:
            return self._official[index]
        rng = episode_rng(self.episode_seed, epoch, index)
        if self.QUERY_SAMPLING == 'class_first':
            c = self.split_class_ids[rng.integers(len(self.split_class_ids))]
            q = int(self._members[c][rng.integers(len(self._members[c]))])
        else:
            q = index % self._pool_size
            c = int(self._pool_classes[q])
        members = self._members[c]
        pos = draw_support_positions(rng, len(members),
                                     int(self._positions[q]), self.shot)
        supports = [self._record(int(members[p]))['name'] for p in pos]
        return int(c), self._record(q)['name'], supports

    @force_full_init
    def set_episode_seed(self, episode_seed: int) -> None:
        """Draw this dataset's episodes again with another seed.

        The pool is not read again: only the episodes change (for
        ``'official'`` sampling they are replayed from
        ``np.random.RandomState(episode_seed)``). ``tools/test.py --seeds``
        tests one model on several episode sets this way. Workers forked
        before the call keep the old episodes: iterate a dataloader without
        persistent workers afterwards.

        Args:
            episode_seed (int): The new seed.
        """
        episode_seed = int(episode_seed)
        if episode_seed == self.episode_seed:
            return
        self.episode_seed = episode_seed
        if self._official is not None:
            records = [self._record(i) for i in range(self._pool_size)]
            self._official = replay_official(
                records, self.split_class_ids, self._num_episodes, self.shot,
                self.QUERY_SAMPLING == 'class_first', self.episode_seed,
                self._official_candidates)

    def _record(self, pool_idx: int) -> dict:
        return BaseDataset.get_data_info(self, pool_idx)

    def abs_path(self, name: str) -> str:
        """Absolute path of a name relative to ``data_root``."""
        return osp.join(self.data_root, name) if self.data_root else name

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The episode description (see the class docstring)."""
        epoch, index = self.decode_index(idx)
        class_id, query, supports = self.episode(epoch, index)
        keep = self.mode != 'train' or self.train_ignore_boundary
        return dict(
            episode_idx=index,
            sample_idx=index,
            epoch=epoch,
            class_id=class_id,
            shot=self.shot,
            query_name=query,
            support_names=list(supports),
            img_path=self.abs_path(query),
            seg_map_path=self.abs_path(self.seg_name_of(query)),
            support_img_paths=[self.abs_path(s) for s in supports],
            support_seg_map_paths=[
                self.abs_path(self.seg_name_of(s)) for s in supports
            ],
            **self.mask_label(class_id),
            query_keep_ignore=keep,
            rng_seed=(self.episode_seed, epoch, index),
            image_source=self._image_source())

    def mask_label(self, class_id: int) -> dict:
        """How :class:`LoadEpisode` reads the masks of ``class_id``.

        Returns:
            dict: ``mask_mode`` (:attr:`MASK_MODE`), ``mask_value`` (the
            class's label in an index mask, ``class_id + 1``) and
            ``ignore_index`` (:attr:`IGNORE_LABEL`).
        """
        return dict(
            mask_mode=self.MASK_MODE,
            mask_value=class_id + 1,
            ignore_index=self.IGNORE_LABEL)

    def get_subset(self, indices: Any) -> 'EpisodicDataset':
        raise NotImplementedError(
            'episodic datasets have no subsets; pass indices= to select '
            'pool records or num_episodes= to shorten an epoch')
