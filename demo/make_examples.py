# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Write example episodes (query, support and mask PNGs) to try the demos.

The images come from the synthetic renderer of ``make demo``
(:mod:`hsnet_mm.datasets.synthetic_renderer`), of fold 0's test classes,
which the demo model never saw in training. Images have different sizes and
aspect ratios on purpose. Masks are 0/255 grayscale PNGs.

Usage::

    python demo/make_examples.py demo/examples

writes ``episode<e>_query<q>.png``, ``episode<e>_support<k>.png`` and
``episode<e>_support<k>_mask.png``.
"""
import argparse
import io
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from hsnet_mm.datasets.synthetic_renderer import (SyntheticRenderer,
                                                  class_fold, class_name,
                                                  class_specs)
from hsnet_mm.utils import check_writable, run_cli
from hsnet_mm.utils.fileio import atomic_write_bytes

#: (class slot among fold 0's test classes, number of shots, query sizes).
EPISODES = ((2, 1, ((128, 160), (96, 120))), (5, 3, ((144, 112), )))
SUPPORT_SIZES = ((96, 96), (112, 128), (128, 96))
FIRST_INDEX = 1000  # beyond the demo's pools: fresh images of the class


def _png(path: str, arr: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format='PNG')
    return atomic_write_bytes(path, buf.getvalue())


def _render(size: Tuple[int, int], class_id: int, index: int,
            test_ids: Sequence[int], specs) -> Tuple[np.ndarray, np.ndarray]:
    renderer = SyntheticRenderer(0, size, specs, test_ids, (1, 3), True)
    img, label = renderer.render(class_id, index)
    return img, ((label == class_id + 1) * 255).astype(np.uint8)


def write_examples(out_dir: str) -> List[Dict]:
    """Write the example episodes into ``out_dir``.

    Returns:
        list[dict]: per episode ``class_name``, ``queries`` (paths),
        ``supports`` and ``masks`` (paths, shot order).
    """
    specs = class_specs(48)
    test_ids = [c for c, s in enumerate(specs) if class_fold(s, 4) == 0]
    episodes = []
    for e, (slot, shots, query_sizes) in enumerate(EPISODES):
        class_id = test_ids[slot]
        index = FIRST_INDEX
        ep = dict(
            class_name=class_name(specs[class_id]),
            queries=[],
            supports=[],
            masks=[])
        for k in range(shots):
            img, mask = _render(SUPPORT_SIZES[k], class_id, index, test_ids,
                                specs)
            index += 1
            base = osp.join(out_dir, f'episode{e}_support{k}')
            ep['supports'].append(_png(base + '.png', img))
            ep['masks'].append(_png(base + '_mask.png', mask))
        for q, size in enumerate(query_sizes):
            img, _ = _render(size, class_id, index, test_ids, specs)
            index += 1
            ep['queries'].append(
                _png(osp.join(out_dir, f'episode{e}_query{q}.png'), img))
        episodes.append(ep)
    return episodes


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='folder to write the PNGs into')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    check_writable(args.out_dir)
    for ep in write_examples(args.out_dir):
        print(f"{ep['class_name']}: {len(ep['supports'])} shot(s), "
              f"queries {' '.join(ep['queries'])}")


if __name__ == '__main__':
    run_cli(main)
