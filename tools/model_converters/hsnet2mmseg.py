# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Convert an official HSNet checkpoint (juhongm999/hsnet) to hsnet-mm.

Example::

    python tools/model_converters/hsnet2mmseg.py \
        logs/res50_pas_fold0/best_model.pt \
        checkpoints/hsnet_r50_pascal5i_fold0.pth --backbone resnet50

SRC may be a plain state dict (with or without DataParallel's ``module.``
prefix) or a dict holding one under ``state_dict``, fp16 or fp32. DST is an
mmengine checkpoint ``{'state_dict': fp32 tensors, 'meta': {...}}`` that
loads strictly into the model of ``configs/_base_/models/hsnet_<bb>.py``.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import hsnet_mm
from hsnet_mm.models.official_checkpoint import (convert_official_state_dict,
                                                 model_key_shapes)

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'models')
BACKBONE_CONFIGS = {
    'vgg16': 'hsnet_vgg16.py',
    'resnet50': 'hsnet_r50.py',
    'resnet101': 'hsnet_r101.py',
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official HSNet checkpoint to hsnet-mm')
    parser.add_argument('src', help='official checkpoint (.pt)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    parser.add_argument(
        '--backbone', required=True, choices=sorted(BACKBONE_CONFIGS))
    return parser.parse_args(argv)


def load_official_state_dict(path: str) -> dict:
    """Read SRC and return its state dict; refuse anything else clearly."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # pickle, zip and format errors alike
        raise ValueError(f'{path} is not a PyTorch checkpoint that loads '
                         f'safely: {type(err).__name__}: {err}') from None
    if isinstance(ckpt, dict) and isinstance(ckpt.get('state_dict'), dict):
        ckpt = ckpt['state_dict']
    if not isinstance(ckpt, dict) or not ckpt or not all(
            isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise ValueError(f'{path} holds no state dict (a mapping of names '
                         'to tensors, or one under "state_dict")')
    return ckpt


def expected_shapes(backbone: str) -> dict:
    """Key -> shape of our model for ``backbone`` (no weights loaded)."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(CONFIG_DIR, BACKBONE_CONFIGS[backbone]))
    cfg.model.backbone.init_cfg = None
    return model_key_shapes(MODELS.build(cfg.model))


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        official = load_official_state_dict(args.src)
        state, dropped = convert_official_state_dict(
            official, expected_shapes(args.backbone))
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    meta = dict(
        converted_from=osp.abspath(args.src),
        backbone=args.backbone,
        hsnet_mm_version=hsnet_mm.__version__,
        dropped_official_keys=dropped)
    out_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix='.tmp')
    os.close(fd)
    try:
        torch.save(dict(state_dict=state, meta=meta), tmp)
        os.replace(tmp, args.dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    print(f'converted {len(state)} tensors ({args.backbone}) -> {args.dst}')
    if dropped:
        print(f'dropped {len(dropped)} unused official keys by name: '
              f'{", ".join(dropped)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
