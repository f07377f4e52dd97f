# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""FLOPs per stage of one HSNet episode, and learnable vs frozen parameters.

What is counted: ``torch.utils.flop_counter.FlopCounterMode`` (torch >=
2.1) on one inference episode of random inputs (random weights; the
backbone's ``init_cfg`` is dropped, nothing is downloaded). It counts the
matrix products only (convolutions, ``mm``/``bmm``/``addmm``, ...), each
multiply-add as 2 FLOPs (so FLOPs = 2 x MACs); normalisation, activations,
resizing and element-wise ops are not counted. The backbone stage covers
the query once and the K supports (the query is encoded once per episode).
Each support mask is a rectangle over 37.5% of the image. ``--impl fast``
(the default) counts what the fast path multiplies (the correlation skips
the masked-out support positions, the mix blocks' support conv is a GEMM
with its dense operator), ``--impl reference`` the straightforward dense
products.

Example::

    python tools/analysis_tools/get_flops.py \
        configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py --shot 1
"""
import argparse
import sys
from typing import Dict

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch.utils.flop_counter import FlopCounterMode

import hsnet_mm  # noqa: F401  (registers the components)
from hsnet_mm.utils import call_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shot', type=int, default=1)
    parser.add_argument('--img-size', type=int, default=400)
    parser.add_argument(
        '--impl', default='fast', choices=['fast', 'reference'])
    args = parser.parse_args(argv)
    if args.shot < 1 or args.img_size < 32:
        parser.error('--shot must be >= 1 and --img-size >= 32')
    return args


def count_stages(model: torch.nn.Module, shot: int,
                 img_size: int) -> Dict[str, int]:
    """FLOPs of backbone, correlation (neck), 4D encoder and decoder."""
    g = torch.Generator().manual_seed(0)
    query = torch.randn(1, 3, img_size, img_size, generator=g)
    supports = torch.randn(shot, 3, img_size, img_size, generator=g)
    masks = torch.zeros(shot, img_size, img_size)
    masks[:, img_size // 4:3 * img_size // 4, img_size // 4:] = 1
    flops = {}

    def counted(name, fn, *args):
        with FlopCounterMode(display=False) as counter:
            out = fn(*args)
        flops[name] = counter.get_total_flops()
        return out

    with torch.no_grad():
        q_feats = counted('backbone (query)', model.backbone, query)
        s_feats = counted(f'backbone ({shot} supports)', model.backbone,
                          supports)
        q_feats = [[f.expand(shot, *f.shape[1:]) for f in level]
                   for level in q_feats]
        pyramid = counted('correlation', model.neck, q_feats, s_feats, masks)
        encoded = counted('4D encoder', model.encoder, pyramid)
        counted('decoder', model.decode_head, encoded)
    return flops


def main(argv=None) -> int:
    args = parse_args(argv)
    init_default_scope('mmseg')
    cfg = Config.fromfile(args.config)
    cfg.model.backbone = dict(cfg.model.backbone, init_cfg=None)
    cfg.model.impl = args.impl
    model = MODELS.build(cfg.model).eval()
    flops = count_stages(model, args.shot, args.img_size)
    total = sum(flops.values())
    print(f'{args.shot}-shot episode, {args.img_size} x {args.img_size}, '
          f'{args.impl} path, support masks 37.5% of the image; FLOPs = 2 x '
          'multiply-adds of convs and matrix products (torch '
          'FlopCounterMode)')
    for name, value in flops.items():
        print(f'  {name:<22} {value / 1e9:10.2f} GFLOPs '
              f'({100 * value / total:4.1f}%)')
    print(f'  {"total":<22} {total / 1e9:10.2f} GFLOPs')
    learnable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    print(f'parameters: learnable {learnable:,}, frozen {frozen:,}, '
          f'total {learnable + frozen:,}')
    return 0


if __name__ == '__main__':
    sys.exit(call_cli(main))
