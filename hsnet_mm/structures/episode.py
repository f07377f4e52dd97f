# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The episode layout: the one place that says what an episode looks like.

A few-shot *episode* is a query image plus ``K`` support images with binary
masks of one class. Datasets produce it, ``PackEpisodeInputs`` packs it, the
data preprocessor batches and normalises it and ``HSNet`` reads it.

**Shape shorthand**, the one vocabulary of every docstring in hsnet-mm:

- ``B``: episodes in a batch; ``K``: shots (support images) per episode.
- ``N = B * K``: (query, support) pairs, shot-minor (pair ``b * K + k`` is
  shot ``k`` of episode ``b``). It is the batch dim of everything between
  the backbone and the decode head: the neck, the 4D encoder and the head
  see N pairs, the segmentor folds them back into (B, K).
- ``H, W``: the network input size (every image of an episode is resized to
  it); ``H0, W0``: the original query size.
- ``C``: channels (``C_l`` of feature layer ``l``).
- ``L``: feature layers stacked in one pyramid level (``L_i`` of level
  ``i``; levels are listed deepest first).
- ``Hq, Wq`` and ``Hs, Ws``: the spatial size of a query and of a support
  feature map, which are also the query and support dims of a 4D
  correlation ``(N, L, Hq, Wq, Hs, Ws)``. Where a module has several
  levels, they name the size at the level at hand; the encoder's output is
  at the finest level's ``Hq, Wq`` and the decode head's logits are
  ``(N, 2, 2 Hq, 2 Wq)``.

**One packed episode** (output of ``PackEpisodeInputs``)::

    dict(
        inputs=dict(
            query_img=uint8 Tensor (3, H, W),        # RGB
            support_imgs=uint8 Tensor (K, 3, H, W),  # RGB
            support_masks=uint8 Tensor (K, H, W),    # 1 class, 0 bg, 255 ign.
        ),
        data_samples=SegDataSample(
            gt_sem_seg=PixelData(data=int64 Tensor (1, Hg, Wg)),  # 0/1/255
            metainfo=dict(class_id=..., query_name=..., ...)  # see below
        ))

``gt_sem_seg`` is the query mask: ``(H, W)`` in the resized protocol (the
official default) or ``(H0, W0)`` when the original-size protocol keeps the
query mask at its original size (then uint8, 1 byte a pixel: only the
metric and the pictures read it). It is absent when no mask is known (plain
inference on a user's image).

**Metainfo keys** of each ``SegDataSample`` (:data:`EPISODE_META_KEYS`):

- ``class_id`` (int): 0-based, dataset-global class id of the episode.
- ``query_name`` (str): query image path relative to ``data_root``.
- ``support_names`` (list[str]): the K support image paths relative to
  ``data_root``, in shot order.
- ``img_path`` (str): absolute query image path.
- ``support_img_paths`` (list[str]): absolute support image paths.
- ``ori_shape`` (tuple[int, int]): ``(H0, W0)``, the original query size.
- ``img_shape`` (tuple[int, int]): ``(H, W)``, the network input size.
- ``shot`` (int): K.
- ``episode_idx`` (int): index of the episode in its dataset.

**A batch** after ``EpisodeDataPreProcessor`` (what ``HSNet.forward`` gets)::

    inputs=dict(
        query_img=float Tensor (B, 3, H, W),        # normalised
        support_imgs=float Tensor (B, K, 3, H, W),  # normalised
        support_masks=float Tensor (B, K, H, W),    # 0/1; ignore (255) -> 0
    )
    data_samples=list of B SegDataSample

Support ignore pixels (PASCAL boundaries) count as background when the
support features are masked, as the official code does.
"""
from typing import Dict, NamedTuple, Sequence

import torch

#: Label value of pixels that are neither class nor background.
IGNORE_INDEX = 255

#: A batch of episode tensors: ``query_img`` (B, 3, H, W), ``support_imgs``
#: (B, K, 3, H, W), ``support_masks`` (B, K, H, W).
EpisodeInputs = Dict[str, torch.Tensor]

#: Backbone features grouped by pyramid level, **deepest level first** (the
#: one pyramid order of hsnet-mm: backbones return it, the neck keeps it,
#: the 4D encoder squeezes the deepest level first, as the official HSNet):
#: per level a sequence of L maps (N, C_l, H_i, W_i) of one spatial size,
#: its layers shallow to deep.
FeatureGroups = Sequence[Sequence[torch.Tensor]]


class SupportFeatures(NamedTuple):
    """An encoded support set, reusable for many queries
    (``HSNet.encode_support``; ``HSNet.predict(..., support=...)``).

    Attributes:
        feats (FeatureGroups): per level, L maps (Bs K, C_l, Hs, Ws),
            shot-minor.
        masks (Tensor): (Bs K, H, W) float 0/1 support masks.
        num_shots (int): K.
        batch_size (int): Bs: 1 (one support set for every query of a
            batch) or B (one per episode).
    """
    feats: FeatureGroups
    masks: torch.Tensor
    num_shots: int
    batch_size: int

    @property
    def input_size(self):
        """(H, W): the input size the supports were encoded at."""
        return tuple(self.masks.shape[-2:])

    def check_queries(self, batch_size: int, size: Sequence[int]) -> None:
        """Raise ``ValueError`` unless B = ``batch_size`` queries of input
        size ``size`` (H, W) can use these supports."""
        size = tuple(size)
        if self.input_size != size or self.batch_size not in (1, batch_size):
            raise ValueError(
                f'the supports were encoded for {self.batch_size} episode(s) '
                f'at {self.input_size} (H, W); the queries are {batch_size} '
                f'at {size}')


#: Keys of the ``inputs`` dict of an episode (packed and batched alike).
EPISODE_INPUT_KEYS = ('query_img', 'support_imgs', 'support_masks')

#: Metainfo keys every packed episode carries.
EPISODE_META_KEYS = ('class_id', 'query_name', 'support_names', 'img_path',
                     'support_img_paths', 'ori_shape', 'img_shape', 'shot',
                     'episode_idx')


def stack_episode_inputs(
        inputs: Dict[str, Sequence[torch.Tensor]]) -> Dict[str, torch.Tensor]:
    """Stack the per-episode tensors of a collated batch.

    Args:
        inputs (dict): ``pseudo_collate`` output, each key of
            :data:`EPISODE_INPUT_KEYS` mapping to a list of B tensors (or an
            already stacked tensor).

    Returns:
        dict: the same keys with tensors of shape (B, 3, H, W),
        (B, K, 3, H, W) and (B, K, H, W).

    Raises:
        KeyError: a key of :data:`EPISODE_INPUT_KEYS` is missing.
        ValueError: the episodes of the batch differ in shape (image size or
            number of shots).
    """
    missing = [k for k in EPISODE_INPUT_KEYS if k not in inputs]
    if missing:
        raise KeyError(f'episode inputs lack {missing}; got keys '
                       f'{sorted(inputs)} (see hsnet_mm.structures.episode)')
    stacked = {}
    for key in EPISODE_INPUT_KEYS:
        value = inputs[key]
        if isinstance(value, torch.Tensor):
            stacked[key] = value
            continue
        shapes = {tuple(v.shape) for v in value}
        if len(shapes) != 1:
            raise ValueError(
                f'episodes of one batch must share the shape of {key!r} '
                f'(same image size and shot count), got {sorted(shapes)}')
        stacked[key] = torch.stack(list(value))
    return stacked


def check_support_shapes(support_imgs: torch.Tensor,
                         support_masks: torch.Tensor) -> None:
    """Check the shapes of a batch of support sets (any dtype).

    Args:
        support_imgs (Tensor): (B, K, 3, H, W).
        support_masks (Tensor): (B, K, H, W).

    Raises:
        ValueError: wrong ranks, channel counts (RGB only), batch sizes,
            shot counts or sizes that differ between images and masks.
    """
    if support_imgs.dim() != 5:
        raise ValueError('support_imgs must be (B, K, 3, H, W), got shape '
                         f'{tuple(support_imgs.shape)}')
    if support_masks.dim() != 4:
        raise ValueError('support_masks must be (B, K, H, W), got shape '
                         f'{tuple(support_masks.shape)}')
    if support_imgs.shape[2] != 3:
        raise ValueError(
            _not_rgb('support_imgs (B, K, 3, H, W)', support_imgs))
    if support_imgs.shape[0] != support_masks.shape[0]:
        raise ValueError(
            f'batch sizes differ: support images {support_imgs.shape[0]}, '
            f'support masks {support_masks.shape[0]}')
    if support_imgs.shape[1] != support_masks.shape[1]:
        raise ValueError(
            f'shot counts differ: {support_imgs.shape[1]} support images '
            f'but {support_masks.shape[1]} support masks per episode')
    if support_imgs.shape[1] < 1:
        raise ValueError('an episode needs at least one support (K >= 1)')
    if support_imgs.shape[-2:] != support_masks.shape[-2:]:
        raise ValueError(
            f'support images {tuple(support_imgs.shape[-2:])} and support '
            f'masks {tuple(support_masks.shape[-2:])} must have the same '
            'spatial size')


def _not_rgb(what: str, x: torch.Tensor) -> str:
    return (f'images must be RGB: {what}, got {tuple(x.shape)} (repeat a '
            'grayscale channel 3 times; drop an alpha channel)')


def check_episode_shapes(query_img: torch.Tensor, support_imgs: torch.Tensor,
                         support_masks: torch.Tensor) -> None:
    """Check the shapes of a batch of episodes (any dtype, e.g. raw uint8).

    Args:
        query_img (Tensor): (B, 3, H, W).
        support_imgs (Tensor): (B, K, 3, H, W).
        support_masks (Tensor): (B, K, H, W).

    Raises:
        ValueError: wrong ranks, channel counts (RGB only), batch sizes,
            shot counts, or sizes that differ between query, supports and
            masks.
    """
    if query_img.dim() != 4:
        raise ValueError('query_img must be (B, 3, H, W), got shape '
                         f'{tuple(query_img.shape)}')
    if query_img.shape[1] != 3:
        raise ValueError(_not_rgb('query_img (B, 3, H, W)', query_img))
    check_support_shapes(support_imgs, support_masks)
    b = query_img.shape[0]
    if support_imgs.shape[0] != b:
        raise ValueError(f'batch sizes differ: query {b}, supports '
                         f'{support_imgs.shape[0]}')
    size = tuple(query_img.shape[-2:])
    if tuple(support_imgs.shape[-2:]) != size:
        raise ValueError(
            f'query {size}, support images {tuple(support_imgs.shape[-2:])} '
            f'and support masks {tuple(support_masks.shape[-2:])} must have '
            'the same spatial size (resize the episode first)')


def check_episode_tensors(query_img: torch.Tensor,
                          support_imgs: torch.Tensor,
                          support_masks: torch.Tensor,
                          check_mask_values: bool = True) -> torch.Tensor:
    """Validate the tensors of a batch of episodes; return float masks.

    Called once per entry point: by ``EpisodeDataPreProcessor`` (the
    Runner's and the API's path) and by ``HSNet.encode_decode`` (the
    tensor-level entry).

    Args:
        query_img (Tensor): (B, 3, H, W).
        support_imgs (Tensor): (B, K, 3, H, W).
        support_masks (Tensor): (B, K, H, W), float, bool or integer 0/1.
        check_mask_values (bool): check that the masks hold only 0 and 1
            (False where the caller made them so). Defaults to True.

    Returns:
        Tensor: the support masks as float 0/1 in the images' dtype.

    Raises:
        TypeError: the images are not floating point (raw uint8 images must
            be normalised first, e.g. by ``EpisodeDataPreProcessor``).
        ValueError: wrong ranks, channel counts (RGB only), batch sizes,
            shot counts or sizes that differ between query, supports and
            masks; NaN or Inf in the images; mask values other than 0 and 1.
    """
    check_episode_shapes(query_img, support_imgs, support_masks)
    for name, img in (('query_img', query_img), ('support_imgs',
                                                 support_imgs)):
        if not img.is_floating_point():
            raise TypeError(
                f'{name} is {img.dtype}: the model takes normalised float '
                'images ((x - mean) / std, as EpisodeDataPreProcessor makes '
                'them); for raw images use hsnet_mm.apis.inference_episode')
    for name, img in (('query_img', query_img), ('support_imgs',
                                                 support_imgs)):
        if not bool(torch.isfinite(img).all()):
            raise ValueError(f'{name} holds NaN or Inf values')
    masks = support_masks.to(query_img.dtype)
    if check_mask_values and not bool(((masks == 0) | (masks == 1)).all()):
        values = torch.unique(support_masks)[:8].tolist()
        raise ValueError('support masks must hold only 0 and 1 (map ignore '
                         f'pixels to 0 first); found values {values}')
    return masks
