# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Web demo: upload a query and 1-5 annotated supports, see the mask.

Usage::

    python demo/web_demo.py CONFIG CHECKPOINT [--host 127.0.0.1] [--port N]
        [--max-file-size 20mb] [--examples-dir DIR]

Needs Gradio (``pip install -r requirements/optional.txt``, pinned). Each
support gets its mask from an uploaded mask file or, when none is uploaded,
from the strokes painted over the image in its editor (any painted pixel is
the object). "Add as support" puts the last query with its prediction into
a support slot, to correct and run again.

Everything the server writes (Gradio's upload cache, the example episodes)
is in one fresh temporary folder, removed at exit (Ctrl-C or SIGTERM).
Uploads above ``--max-file-size`` are refused, and so are files that are
not images (by their header, before any decoding). The example episodes
are written by ``make_examples.py`` into that folder, or copied there from
the episodes found in ``--examples-dir`` (read only; nothing else of it is
served). The server binds to 127.0.0.1 unless ``--host`` says otherwise.
"""
import argparse
import os
import os.path as osp
import re
import shutil
import signal
import socket
import tempfile
from typing import Dict, List, Optional, Tuple

from make_examples import read_examples, write_examples
from web_episode import check_image_file

from hsnet_mm.apis import init_model
from hsnet_mm.apis.inference import add_model_arguments
from hsnet_mm.deploy import is_export_dir
from hsnet_mm.utils import UserError, check_device, run_cli
from hsnet_mm.utils.fileio import atomic_write_bytes

DEFAULT_MAX_FILE_SIZE = '20mb'
_UNITS = dict(b=1, kb=2**10, mb=2**20, gb=2**30)


def parse_size(text: str) -> int:
    """``'20mb'``, ``'500kb'`` or ``'1048576'`` (bytes) as bytes.

    Raises:
        UserError: not a positive size.
    """
    m = re.fullmatch(r'\s*(\d+)\s*(b|kb|mb|gb)?\s*', str(text).lower())
    if not m or int(m.group(1)) < 1:
        raise UserError(f'--max-file-size {text}: expected a positive size '
                        f'such as 20mb, 500kb or 1048576 (bytes)')
    return int(m.group(1)) * _UNITS[m.group(2) or 'b']


def check_port(host: str, port: int) -> None:
    """Refuse a port that another program listens on (before the model is
    built).

    Raises:
        UserError: naming the address.
    """
    if not 0 < port < 65536:
        raise UserError(f'--port {port}: expected 1..65535')
    with socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET,
                       socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise UserError(f'--port {port}: cannot listen on {host}:{port} '
                            f'({e.strerror or e}); is another server '
                            f'running there? Choose another --port') from e


def copy_examples(episodes: List[Dict], out_dir: str) -> List[Dict]:
    """Copy the files of ``episodes`` (from :func:`read_examples`), and
    nothing else, into ``out_dir``.

    Returns:
        list[dict]: the episodes, with paths in ``out_dir``.

    Raises:
        UserError: a file is not an image.
    """

    def copy(path: str) -> str:
        check_image_file(path, f'--examples-dir: {osp.basename(path)}')
        with open(path, 'rb') as f:
            return atomic_write_bytes(
                osp.join(out_dir, osp.basename(path)), f.read())

    return [
        dict(
            ep, **{
                key: [copy(p) for p in ep[key]]
                for key in ('queries', 'supports', 'masks')
            }) for ep in episodes
    ]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='hsnet-mm web demo')
    parser.add_argument('config', help='config file')
    add_model_arguments(parser)
    parser.add_argument(
        '--host',
        default='127.0.0.1',
        help='address to bind (default: local only)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--max-file-size',
        default=DEFAULT_MAX_FILE_SIZE,
        help='largest upload accepted, e.g. 20mb, 500kb or bytes '
        f'(default: {DEFAULT_MAX_FILE_SIZE})')
    parser.add_argument(
        '--examples-dir',
        default=None,
        help='a folder of example episodes written by make_examples.py '
        '(read only; default: fresh ones)')
    return parser.parse_args(argv)


def _check_inputs(args: argparse.Namespace) -> Tuple[int, List[Dict]]:
    """Every check that needs no model, before anything is written.

    Returns:
        tuple: the upload limit in bytes, and the episodes of
        ``--examples-dir`` (empty without it).
    """
    max_bytes = parse_size(args.max_file_size)
    check_device(args.device)
    if not osp.isfile(args.config):
        raise UserError(f'config file not found: {args.config}')
    if not (osp.isfile(args.checkpoint) or is_export_dir(args.checkpoint)):
        raise UserError(f'checkpoint file (or export directory) not found: '
                        f'{args.checkpoint}')
    episodes = []
    if args.examples_dir is not None:
        if not osp.isdir(args.examples_dir):
            raise UserError(
                f'--examples-dir {args.examples_dir}: not a folder')
        episodes = read_examples(args.examples_dir)
        if not episodes:
            raise UserError(
                f'--examples-dir {args.examples_dir}: no example episodes '
                f'(episode<e>_query<q>.png, episode<e>_support<k>[_mask].png)'
                f'; write them with demo/make_examples.py')
    check_port(args.host, args.port)
    return max_bytes, episodes


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops the server like Ctrl-C


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    max_bytes, episodes = _check_inputs(args)
    root = tempfile.mkdtemp(prefix='hsnet_web_demo_')
    saved_env = os.environ.get('GRADIO_TEMP_DIR')
    saved_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        os.environ['GRADIO_TEMP_DIR'] = osp.join(root, 'cache')
        os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
        examples_dir = osp.join(root, 'examples')
        examples = (
            copy_examples(episodes, examples_dir)
            if episodes else write_examples(examples_dir))
        model = init_model(
            args.config,
            args.checkpoint,
            device=args.device,
            backend=args.backend)
        from web_ui import build_demo
        demo = build_demo(model, examples)
        demo.queue(default_concurrency_limit=1).launch(
            server_name=args.host,
            server_port=args.port,
            max_file_size=max_bytes,
            show_error=True)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, saved_handler)
        if saved_env is None:
            os.environ.pop('GRADIO_TEMP_DIR', None)
        else:
            os.environ['GRADIO_TEMP_DIR'] = saved_env
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    run_cli(main)
