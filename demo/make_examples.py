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
import os
import os.path as osp
import re
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


EXAMPLE_NAME = re.compile(
    r'episode(\d+)_(?:query(\d+)|support(\d+)(_mask)?)\.png')


def read_examples(folder: str) -> List[Dict]:
    """The episodes that :func:`write_examples` wrote into ``folder``.

    Only the files of :data:`EXAMPLE_NAME` directly in ``folder`` count;
    an episode needs a query and, for shots 0..K-1, each support with its
    mask (K >= 1); incomplete episodes are left out.

    Returns:
        list[dict]: per episode ``class_name`` (``episode<e>``),
        ``queries``, ``supports`` and ``masks`` (paths, sorted by index).
    """
    found: Dict[int, Dict[str, Dict[int, str]]] = {}
    for name in sorted(os.listdir(folder)):
        m = EXAMPLE_NAME.fullmatch(name)
        path = osp.join(folder, name)
        if not m or not osp.isfile(path):
            continue
        ep = found.setdefault(
            int(m.group(1)), dict(queries={}, supports={}, masks={}))
        if m.group(2) is not None:
            ep['queries'][int(m.group(2))] = path
        else:
            key = 'masks' if m.group(4) else 'supports'
            ep[key][int(m.group(3))] = path
    episodes = []
    for e, ep in sorted(found.items()):
        shots = 0
        while shots in ep['supports'] and shots in ep['masks']:
            shots += 1
        if not ep['queries'] or not shots:
            continue
        episodes.append(
            dict(
                class_name=f'episode{e}',
                queries=[p for _, p in sorted(ep['queries'].items())],
                supports=[ep['supports'][k] for k in range(shots)],
                masks=[ep['masks'][k] for k in range(shots)]))
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
