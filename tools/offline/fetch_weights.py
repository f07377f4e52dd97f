# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Download the ImageNet backbone weights that configs load by URL.

Where a network is, before training on nodes without one::

    python tools/offline/fetch_weights.py \
        configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py
    python tools/offline/fetch_weights.py --all          # every config's
    python tools/offline/fetch_weights.py --all --dest WHEELHOUSE/weights
    python tools/offline/fetch_weights.py --all --list   # no download

Each ``Pretrained`` ``init_cfg`` with an http(s) checkpoint goes into
torch's hub cache, ``torch.hub.get_dir()/checkpoints`` (that is
``$TORCH_HOME/hub/checkpoints``), where mmengine looks before downloading;
or, with ``--dest``, into a folder to carry (``tools/offline/install.sh``
copies a wheelhouse's ``weights/`` into the hub cache), with a
``SHA256SUMS`` file. A file already there is kept. The SHA-256 of each
file is printed and compared with the hash prefix that torchvision and
OpenMMLab put in the file names (``resnet50-0676ba61.pth``).
"""
import argparse
import glob
import hashlib
import os.path as osp
import re
from typing import List, Optional, Sequence

from hsnet_mm.utils import (fetch_pretrained, hub_checkpoint_path,
                            pretrained_urls, read_config, run_cli)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Download the pretrained backbone weights that configs '
        'load by URL, into torch\'s hub cache or a folder to carry')
    parser.add_argument('configs', nargs='*', help='config files')
    parser.add_argument(
        '--all',
        action='store_true',
        help='every config under configs/ (except _base_/)')
    parser.add_argument(
        '--dest',
        help='put the files here (to carry; e.g. WHEELHOUSE/weights) '
        'instead of torch.hub.get_dir()/checkpoints')
    parser.add_argument(
        '--list',
        action='store_true',
        help='print the URLs and the paths; download nothing')
    args = parser.parse_args(argv)
    if not args.configs and not args.all:
        parser.error('give CONFIG files or --all')
    return args


def all_configs() -> List[str]:
    return sorted(
        path for path in glob.glob(
            osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in path.split(osp.sep))


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def name_hash(path: str) -> Optional[str]:
    """The hash prefix in a file name (``resnet50-0676ba61.pth`` ->
    ``0676ba61``), as ``torch.hub`` reads it."""
    m = re.search(r'-([a-f0-9]{6,})\.', osp.basename(path))
    return m.group(1) if m else None


def write_sums(path: str, sums: dict) -> None:
    """Add ``{file name: sha256}`` to a ``sha256sum``-style file."""
    if osp.isfile(path):
        with open(path) as f:
            for line in f:
                digest, _, name = line.strip().partition('  ')
                sums.setdefault(name, digest)
    with open(path, 'w') as f:
        f.writelines(f'{sums[name]}  {name}\n' for name in sorted(sums))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    configs = (all_configs() if args.all else []) + list(args.configs)
    urls: List[str] = []
    for config in configs:
        urls += [
            u for u in pretrained_urls(read_config(config)) if u not in urls
        ]
    if not urls:
        print('no Pretrained init_cfg with an http(s) checkpoint in '
              f'{len(configs)} config(s): nothing to download')
        return 0
    sums = {}
    for url in urls:
        path = hub_checkpoint_path(url)
        if args.dest:
            path = osp.join(osp.abspath(args.dest), osp.basename(path))
        if args.list:
            print(f'{url} -> {path}' +
                  ('' if osp.isfile(path) else ' (missing)'))
            continue
        if osp.isfile(path) and osp.getsize(path) > 0:
            print(f'{path}: there already')
        else:
            print(f'{url} -> {path}', flush=True)
            fetch_pretrained(url, path)
        digest = sha256(path)
        expected = name_hash(path)
        note = ''
        if expected and not digest.startswith(expected):
            note = (f' WARNING: the name says {expected}...: a truncated or '
                    'different file?')
        print(f'  {osp.getsize(path) / 1e6:.1f} MB, sha256 {digest}{note}')
        sums[osp.basename(path)] = digest
    if args.dest and sums:
        write_sums(osp.join(args.dest, 'SHA256SUMS'), sums)
    if args.list:
        return 0
    print(f'{len(urls)} file(s) in {osp.dirname(path)}')
    return 0


if __name__ == '__main__':
    run_cli(main)
