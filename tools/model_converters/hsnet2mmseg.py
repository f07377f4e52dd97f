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
import os.path as osp

from mmengine.config import Config

import hsnet_mm
from hsnet_mm.models.official_checkpoint import convert_official_state_dict
from hsnet_mm.utils import (UserError, build_model_skeleton, check_finite,
                            check_writable, load_state_dict, one_line, run_cli,
                            save_checkpoint_file, state_dict_shapes)

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


def expected_shapes(backbone: str) -> dict:
    """Key -> shape of our model for ``backbone`` (no weights loaded)."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, BACKBONE_CONFIGS[backbone]))
    cfg.model.backbone.init_cfg = None
    return state_dict_shapes(build_model_skeleton(cfg))


def check_not_the_source(src: str, dst: str) -> None:
    """Refuse a destination that is the source (also through links): the
    official file would be replaced by the converted one."""
    same = osp.realpath(src) == osp.realpath(dst)
    if not same and osp.exists(src) and osp.exists(dst):
        same = osp.samefile(src, dst)
    if same:
        raise UserError(f'{dst} is the source checkpoint {src}: write the '
                        'converted one to another path')


def main(argv=None) -> int:
    args = parse_args(argv)
    check_not_the_source(args.src, args.dst)
    check_writable(args.dst)
    # the official files keep DataParallel's "module." prefix, which
    # load_state_dict strips
    official = load_state_dict(args.src)
    check_finite(official, args.src)  # a diverged run converts to nothing
    expected = expected_shapes(args.backbone)
    try:
        state, dropped = convert_official_state_dict(official, expected)
    except (ValueError, KeyError) as err:  # not an official file's keys
        raise UserError(f'{args.src}: {one_line(err)}') from err
    meta = dict(
        converted_from=osp.abspath(args.src),
        backbone=args.backbone,
        hsnet_mm_version=hsnet_mm.__version__,
        dropped_official_keys=dropped)
    save_checkpoint_file(dict(state_dict=state, meta=meta), args.dst)
    print(f'converted {len(state)} tensors ({args.backbone}) -> {args.dst}')
    if dropped:
        print(f'dropped {len(dropped)} unused official keys by name: '
              f'{", ".join(dropped)}')
    return 0


if __name__ == '__main__':
    run_cli(main)
