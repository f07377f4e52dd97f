# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Save a few episodes of a config's dataset as PNGs.

Each PNG shows the supports with their masks, then the query with its
ground truth, after the config's pipeline (so the resize shows).

Example::

    python tools/analysis_tools/browse_dataset.py \\
        configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py --num 8
"""
import argparse
import os.path as osp

import numpy as np
from mmengine.config import DictAction
from mmengine.registry import init_default_scope

from hsnet_mm.utils import build_split_dataset, read_config, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Browse episodes')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--output-dir',
        default='work_dirs/browse_dataset',
        help='where to write the PNGs')
    parser.add_argument('--num', type=int, default=8, help='episodes')
    parser.add_argument(
        '--split',
        default='train',
        choices=['train', 'val', 'test'],
        help='which dataloader of the config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error(f'--num must be >= 1, got {args.num}')
    return args


def episode_arrays(packed: dict) -> dict:
    """Drawing arguments (HWC uint8 numpy) of a packed episode."""
    inputs, sample = packed['inputs'], packed['data_samples']
    query = inputs['query_img'].permute(1, 2, 0).numpy()
    supports = inputs['support_imgs'].permute(0, 2, 3, 1).numpy()
    gt = None
    if 'gt_sem_seg' in sample:
        gt = sample.gt_sem_seg.data[0].numpy().astype(np.uint8)
    return dict(
        query_img=np.ascontiguousarray(query),
        support_imgs=[np.ascontiguousarray(s) for s in supports],
        support_masks=list(inputs['support_masks'].numpy()),
        gt_mask=gt)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = read_config(args.config, args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    # Imported here, after the config: registers the datasets.
    import hsnet_mm.datasets  # noqa: F401
    from hsnet_mm.visualization import save_episode_png
    dataset = build_split_dataset(cfg, args.split)
    classes = dataset.metainfo.get('classes', ())
    for i in range(min(args.num, len(dataset))):
        packed = dataset[i]
        meta = packed['data_samples'].metainfo
        class_id = meta.get('class_id', -1)
        name = classes[class_id] if 0 <= class_id < len(classes) else '?'
        title = (f'episode {i}: class {class_id} ({name}), query '
                 f'{meta.get("query_name", "")}')
        path = osp.join(args.output_dir, f'episode_{i:04d}.png')
        save_episode_png(path, title=title, **episode_arrays(packed))
        print(path)


if __name__ == '__main__':
    run_cli(main)
