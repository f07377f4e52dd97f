# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Any backbone as an HSNet backbone: features tapped from named modules.

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` images,
``H, W`` input size, ``C`` channels, ``L`` tokens, ``h, w`` the spatial
size of a tapped map.
"""
import difflib
import functools
import math
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig

from .frozen import FrozenBackboneMixin

HW = Tuple[int, int]

# 'stages.1.blocks.0' or, for a module returning a tuple, 'stages.1[2]'
_TAP_RE = re.compile(r'^(?P<module>[^\[\]]*?)(?:\[(?P<index>-?\d+)\])?$')


class _AllTapsReached(Exception):
    """Raised by the last hook to stop the wrapped forward early."""


@functools.lru_cache(maxsize=64)
def _image_grids(height: int, width: int) -> Dict[HW, int]:
    """Grids ``(ceil or floor(H / s), ... (W / s))`` of an image -> ``s``."""
    grids: Dict[HW, int] = {}
    for s in range(1, max(height, width) + 1):
        ceil_grid = (-(-height // s), -(-width // s))
        for grid in (ceil_grid, (height // s, width // s)):
            if min(grid) > 0:
                grids.setdefault(grid, s)
    return grids


def _grid_of(num_tokens: int, img_hw: HW) -> Optional[HW]:
    """The finest grid of the image with ``num_tokens`` cells, if any."""
    grids = _image_grids(*img_hw)
    return next((g for g in grids if g[0] * g[1] == num_tokens), None)


def _is_hw(value: Any) -> bool:
    """Whether ``value`` looks like an ``(h, w)`` shape."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return False
    return all(type(v) is int and v > 0 for v in value)


@MODELS.register_module()
class FeatureTapBackbone(FrozenBackboneMixin, BaseModule):
    """Wrap any backbone and return HSNet's feature groups from its modules.

    The wrapped backbone is built from its config and run as it is; forward
    hooks collect the outputs of the modules named in ``taps`` (names as in
    ``backbone.named_modules()``), each turned into an (N, C, h, w) map:

    - (N, C, h, w) maps are kept; (N, h, w, C) (channels-last) maps are
      permuted. A 4D output is read as channels-last only when its middle
      two dims are a grid of the image (``ceil`` or ``floor`` of ``H / s,
      W / s`` for some stride s) and its last two are not.
    - token sequences (N, L, C) are reshaped to (N, C, h, w) with the first
      ``(h, w)`` whose product is ``L - prefix_tokens`` found in (1) the
      module's output tuple, right after the tensor (mmseg Swin stages
      return ``(x_down, hw_down, x, hw)``), (2) the module's arguments
      (mmseg Swin / MiT blocks are called as ``block(x, hw_shape)``), or
      (3) the image: the finest grid of the input with that many cells.
    - a module returning a tuple or list gives its first tensor, or the
      item chosen by an index in the tap name: ``'stages.1[2]'``.

    **Order.** ``taps`` lists the pyramid levels **deepest first**, as the
    encoder's ``in_channels`` do, so ``CenterPivot4DEncoder(in_channels=
    tuple(len(level) for level in taps))`` (:attr:`layers_per_level`).
    The output is in the same order, the one pyramid order of hsnet-mm
    (:data:`~hsnet_mm.structures.FeatureGroups`): ``output[i]`` holds the
    maps of ``taps[i]``, in the order they are listed there (shallow to
    deep by convention; it fixes the order of the correlation channels),
    and encoder level ``i`` is ``taps[i]``.

    Args:
        backbone (dict): config of the wrapped backbone, built with
            ``MODELS.build`` (e.g. mmseg's ``SwinTransformer``,
            ``MixVisionTransformer``, ``VisionTransformer``,
            ``ResNetV1c``); its ``init_cfg`` loads its weights.
        taps (Sequence[Sequence[str]]): per pyramid level, deepest first,
            the names of the modules whose outputs form the level. All maps
            of a level must have one spatial size (or be resized by
            ``level_strides``).
        level_strides (Sequence[int | None], optional): per level (deepest
            first), resize its maps to ``(ceil(H / s), ceil(W / s))``
            (bilinear, antialiased when shrinking); None leaves a level as
            it is. This builds a pyramid from a single-scale backbone (a
            plain ViT), e.g. ``(32, 16, 8)``. Defaults to None.
        prefix_tokens (int): tokens to drop from the start of every token
            sequence before reshaping it (1 for a class token). Defaults
            to 0.
        frozen (bool): freeze the wrapped backbone as HSNet does: no
            gradients, no autograd graph, every module in eval mode (norm
            layers use their running statistics). False trains it.
            Defaults to True.
        stop_early (bool): stop the wrapped forward once every tapped
            module has run (the rest of the backbone is not needed).
            Defaults to True.
        init_cfg (dict, optional): Defaults to None; the wrapped backbone's
            own ``init_cfg`` loads pretrained weights.
    """

    def __init__(self,
                 backbone: ConfigType,
                 taps: Sequence[Sequence[str]],
                 *,
                 level_strides: Optional[Sequence[Optional[int]]] = None,
                 prefix_tokens: int = 0,
                 frozen: bool = True,
                 stop_early: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.taps = self._check_taps(taps)
        self._specs = {tap: self._parse(tap) for lv in self.taps for tap in lv}
        self._modules_tapped = list(
            dict.fromkeys(m for m, _ in self._specs.values()))
        self._check_names(backbone)
        if level_strides is not None:
            level_strides = tuple(level_strides)
            if len(level_strides) != len(self.taps) or not all(
                    s is None or (isinstance(s, int) and s >= 1)
                    for s in level_strides):
                raise ValueError(
                    f'level_strides needs one int >= 1 or None per level '
                    f'({len(self.taps)} levels), got {level_strides}')
        if not isinstance(prefix_tokens, int) or prefix_tokens < 0:
            raise ValueError(
                f'prefix_tokens must be an int >= 0, got {prefix_tokens}')
        self.level_strides = level_strides
        self.prefix_tokens = prefix_tokens
        self.stop_early = stop_early
        self._set_frozen(frozen)

    @property
    def layers_per_level(self) -> Tuple[int, ...]:
        """Maps per level, deepest first: the encoder's ``in_channels``."""
        return tuple(len(level) for level in self.taps)

    @staticmethod
    def _check_taps(taps: Sequence[Sequence[str]]) -> Tuple[Tuple[str, ...]]:
        example = ("e.g. taps=[['stages.3.blocks.0', 'stages.3.blocks.1'], "
                   "['stages.2.blocks.0'], ['stages.1.blocks.0']]")
        if isinstance(taps, str) or not taps or any(
                isinstance(lv, str) or not lv or not all(
                    isinstance(t, str) for t in lv) for lv in taps):
            raise ValueError('taps must be one non-empty list of module '
                             f'names per pyramid level, deepest first ('
                             f'{example}), got {taps!r}')
        flat = [t for lv in taps for t in lv]
        dups = sorted({t for t in flat if flat.count(t) > 1})
        if dups:
            raise ValueError(f'taps lists {dups} more than once')
        return tuple(tuple(lv) for lv in taps)

    @staticmethod
    def _parse(tap: str) -> Tuple[str, Optional[int]]:
        match = _TAP_RE.match(tap)
        if match is None:
            raise ValueError(f"tap '{tap}' is not a module name, optionally "
                             "followed by an item index such as '[0]'")
        index = match['index']
        return match['module'], None if index is None else int(index)

    def _check_names(self, backbone_cfg: ConfigType) -> None:
        names = [n for n, _ in self.backbone.named_modules()]
        known = set(names)
        unknown = [m for m in self._modules_tapped if m not in known]
        if not unknown:
            return
        lines = []
        for name in unknown:
            close = difflib.get_close_matches(name, names[1:], n=3, cutoff=.6)
            hint = f'did you mean {close}?' if close else 'no close match'
            lines.append(f"  '{name}': {hint}")
        kind = backbone_cfg.get('type', type(self.backbone).__name__)
        raise ValueError(
            f'FeatureTapBackbone: {kind} has no module named\n' +
            '\n'.join(lines) + '\nList the names with '
            '[n for n, _ in MODELS.build(backbone_cfg).named_modules()].')

    def forward(self, x: torch.Tensor) -> Tuple[List[torch.Tensor], ...]:
        """Run the wrapped backbone and collect the taps.

        Args:
            x (Tensor): normalised images, (N, 3, H, W).

        Returns:
            tuple[list[Tensor]]: per level, deepest first (as ``taps``),
            its maps (N, C_l, h_i, w_i).
        """
        if x.dim() != 4:
            raise ValueError(f'FeatureTapBackbone expects images (N, 3, H, '
                             f'W), got shape {tuple(x.shape)}')
        grad = torch.is_grad_enabled() and not self.frozen
        outputs: Dict[str, Tuple[Any, list]] = {}

        def make_hook(name: str):

            def hook(module, args, kwargs, output):
                if name in outputs:
                    raise RuntimeError(
                        f"FeatureTapBackbone: module '{name}' ran twice in "
                        'one forward; tap a module that runs once.')
                shapes = [
                    tuple(a) for a in (*args, *kwargs.values()) if _is_hw(a)
                ]
                outputs[name] = (output, shapes)
                if self.stop_early and len(outputs) == len(
                        self._modules_tapped):
                    raise _AllTapsReached

            return hook

        handles = [
            self.backbone.get_submodule(name).register_forward_hook(
                make_hook(name), with_kwargs=True)
            for name in self._modules_tapped
        ]
        try:
            with torch.set_grad_enabled(grad):
                try:
                    self.backbone(x)
                except _AllTapsReached:
                    pass
        finally:
            for handle in handles:
                handle.remove()
        missing = [n for n in self._modules_tapped if n not in outputs]
        if missing:
            raise RuntimeError(
                f'FeatureTapBackbone: the modules {missing} never ran in '
                f'the forward of {type(self.backbone).__name__}, so nothing '
                'reached their taps (a branch the backbone skips, e.g. a '
                'stage beyond num_stages); tap modules that run.')
        with torch.set_grad_enabled(grad):
            levels = [
                self._level(i, outputs, x) for i in range(len(self.taps))
            ]
        return tuple(levels)

    def _level(self, i: int, outputs: Dict[str, Tuple[Any, list]],
               x: torch.Tensor) -> List[torch.Tensor]:
        """The maps of level ``i`` (deepest first), checked for size."""
        img_hw = tuple(x.shape[-2:])
        maps = [self._tap_map(tap, outputs, x) for tap in self.taps[i]]
        stride = self.level_strides[i] if self.level_strides else None
        if stride is not None:
            size = (math.ceil(img_hw[0] / stride),
                    math.ceil(img_hw[1] / stride))
            maps = [
                m if tuple(m.shape[-2:]) == size else F.interpolate(
                    m,
                    size=size,
                    mode='bilinear',
                    align_corners=False,
                    antialias=m.shape[-2] > size[0] or m.shape[-1] > size[1])
                for m in maps
            ]
        # (int: traced for export, the sizes are tensors, equal by value)
        if len({tuple(int(s) for s in m.shape[-2:]) for m in maps}) > 1:
            shapes = ', '.join(f"'{t}' {tuple(m.shape)}"
                               for t, m in zip(self.taps[i], maps))
            raise ValueError(
                f'FeatureTapBackbone: the taps of level {i} (deepest first) '
                f'differ in spatial size: {shapes}. A level correlates maps '
                'of one size: tap modules of one stage, or set '
                'level_strides to resize the level.')
        return maps

    def _tap_map(self, tap: str, outputs: Dict[str, Tuple[Any, list]],
                 x: torch.Tensor) -> torch.Tensor:
        """Turn the output of one tap into (N, C, h, w)."""
        module, index = self._specs[tap]
        output, shapes = outputs[module]
        kind = type(self.backbone.get_submodule(module)).__name__

        def fail(msg: str) -> ValueError:
            return ValueError(f"FeatureTapBackbone: tap '{tap}' ({kind}) "
                              f'{msg}')

        if isinstance(output, (tuple, list)):
            if index is None:
                index = next((j for j, o in enumerate(output)
                              if isinstance(o, torch.Tensor)), None)
                if index is None:
                    raise fail(f'returned a {type(output).__name__} without '
                               'a tensor')
            elif not -len(output) <= index < len(output):
                raise fail(f'returned {len(output)} items; [{index}] is out '
                           'of range')
            index %= len(output)
            if index + 1 < len(output) and _is_hw(output[index + 1]):
                shapes = [tuple(output[index + 1])] + shapes
            output = output[index]
        elif index is not None:
            raise fail(f'has an item index [{index}] but the module returned '
                       f'a {type(output).__name__}, not a tuple')
        if not isinstance(output, torch.Tensor):
            raise fail(f'returned {type(output).__name__}, not a tensor: '
                       'nothing to correlate')
        return self._to_nchw(output, shapes, x, fail)

    def _to_nchw(self, t: torch.Tensor, shapes: List[HW], x: torch.Tensor,
                 fail) -> torch.Tensor:
        """(N, C, h, w) from a map, a channels-last map or tokens."""
        n, img_hw = x.shape[0], tuple(x.shape[-2:])
        shape = tuple(t.shape)
        if t.dim() not in (3, 4):
            raise fail(f'returned shape {shape}; a tap must give maps (N, C, '
                       'h, w) or (N, h, w, C), or tokens (N, L, C)')
        if shape[0] != n:
            raise fail(f'returned shape {shape} whose first dim is not the '
                       f'batch size {n} (sequence-first (L, N, C) outputs '
                       'are not supported)')
        if t.dim() == 4:
            grids = _image_grids(*img_hw)
            if shape[2:] not in grids and shape[1:3] in grids:
                return t.permute(0, 3, 1, 2).contiguous()
            return t
        p = self.prefix_tokens
        num = shape[1] - p
        hw = next((s for s in shapes if s[0] * s[1] == num), None)
        hw = hw or (_grid_of(num, img_hw) if num > 0 else None)
        if hw is None:
            hint = next((f'; {num} = {g[0]} x {g[1]} + {k}: set '
                         f'prefix_tokens={p + k} (e.g. a class token)'
                         for k in range(1, 9)
                         for g in [_grid_of(num - k, img_hw)] if g), '')
            raise fail(f'returned {shape[1]} tokens {shape} (prefix_tokens='
                       f'{p}), which form no grid of the {img_hw} input and '
                       f'no (h, w) in the module\'s arguments {shapes}{hint}')
        return t[:, p:].transpose(1, 2).reshape(n, shape[2], *hw)
