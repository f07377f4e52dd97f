# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""VGG in torchvision's parameter layout, exposing HSNet's taps.

Written from the description of ``extract_feat_vgg`` of the official HSNet
(juhongm999/hsnet, ``model/base/feature.py``).

Official VGG16 taps (indices into ``features``): 17, 19, 21 (conv4_1-4_3),
24, 26, 28 (conv5_1-5_3), all **pre-ReLU** (torchvision's ReLUs are in
place, the official code clones the conv output), and 30 (pool5, after the
ReLU). Pyramid levels: conv4_x, conv5_x, pool5.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import OptMultiConfig

from .frozen import FrozenBackboneMixin

# torchvision's VGG layer lists ('M' = max pool).
VGG_ARCHS = {
    11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
    13:
    [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
    16: [
        64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M',
        512, 512, 512, 'M'
    ],
}


@MODELS.register_module()
class HSNetVGG(FrozenBackboneMixin, BaseModule):
    """VGG (no BatchNorm) whose ``features`` indices match torchvision's.

    Output: a tuple with one entry per tap group, deepest first (the
    pyramid order, :data:`~hsnet_mm.structures.FeatureGroups`), each the
    list of the group's feature maps. With the defaults (VGG16) at
    400 x 400: 1 map (N, 512, 12, 12), 3 maps (N, 512, 25, 25) and 3 maps
    (N, 512, 50, 50).

    Args:
        depth (int): 11, 13 or 16. Defaults to 16.
        tap_groups (Sequence[Sequence[int]]): indices into ``features`` whose
            outputs are taken, grouped into pyramid levels, shallow to deep.
            A conv index gives its pre-ReLU output. Defaults to HSNet's
            ``((17, 19, 21), (24, 26, 28), (30,))``.
        frozen (bool): freeze the backbone (no gradients, no autograd
            graph, eval mode). Defaults to True.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='https://download.pytorch.org/models/'
            'vgg16-397923af.pth')``. Defaults to None.
    """

    def __init__(self,
                 depth: int = 16,
                 tap_groups: Sequence[Sequence[int]] = ((17, 19, 21),
                                                        (24, 26, 28), (30, )),
                 frozen: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in VGG_ARCHS:
            raise ValueError(f'VGG depth must be one of {sorted(VGG_ARCHS)}, '
                             f'got {depth}')
        layers: List[nn.Module] = []
        in_channels = 3
        for v in VGG_ARCHS[depth]:
            if v == 'M':
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [
                    nn.Conv2d(in_channels, v, kernel_size=3, padding=1),
                    nn.ReLU(inplace=False)
                ]
                in_channels = v
        self.features = nn.Sequential(*layers)
        flat = [i for group in tap_groups for i in group]
        if not flat or flat != sorted(set(flat)) or flat[-1] >= len(layers):
            raise ValueError('tap_groups must hold increasing indices into '
                             f'features (0..{len(layers) - 1}), got '
                             f'{tap_groups}')
        self.tap_groups = tuple(tuple(g) for g in tap_groups)
        self._set_frozen(frozen)

    def forward(self, x: torch.Tensor) -> Tuple[List[torch.Tensor], ...]:
        """Extract the tapped features.

        Args:
            x (Tensor): normalised images, (N, 3, H, W).

        Returns:
            tuple[list[Tensor]]: per tap group, deepest first, its maps
            (N, C_l, H_i, W_i).
        """
        wanted = {
            i: g
            for g, group in enumerate(self.tap_groups)
            for i in group
        }
        groups: List[List[torch.Tensor]] = [[] for _ in self.tap_groups]
        last = max(wanted)
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            for i, layer in enumerate(self.features):
                x = layer(x)
                if i in wanted:
                    groups[wanted[i]].append(x)
                if i == last:
                    break
        return tuple(groups[::-1])  # deepest first
