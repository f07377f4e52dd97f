# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The ImageNet weights that a config loads by URL, on disk before training.

A backbone's ``init_cfg=dict(type='Pretrained', checkpoint='https://...')``
is loaded by mmengine through ``torch.hub.load_url``: into torch's hub
cache, ``torch.hub.get_dir()/checkpoints/<file name>`` (that is
``$TORCH_HOME/hub/checkpoints``), downloaded the first time. It happens
when the Runner initialises the weights, after everything else is built,
and on a node without internet it ends in a traceback of urllib.
:func:`check_pretrained_weights` looks first, downloads what is missing,
and names the URL and the path when that fails, so that the file can be
brought there (``tools/offline/fetch_weights.py`` where a network is).
For training, :func:`~hsnet_mm.utils.build_runner` runs it through
:class:`PretrainedWeightsHook`, right before the Runner loads the weights.
"""
import http.client
import os
import os.path as osp
import socket
from typing import Any, List
from urllib.parse import urlparse

import torch
from mmengine.hooks import Hook

from .cli import UserError, one_line


def pretrained_urls(cfg: Any) -> List[str]:
    """The http(s) checkpoints of the ``Pretrained`` ``init_cfg`` entries
    of ``cfg.model`` (of ``cfg`` itself when it has no ``model``), in the
    order they appear, without repeats.

    Args:
        cfg (mmengine.Config | dict): A config, or a model config.

    Returns:
        list[str]: The URLs.
    """
    model = cfg.get('model', cfg) if hasattr(cfg, 'get') else cfg
    urls: List[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            checkpoint = node.get('checkpoint')
            if (node.get('type') == 'Pretrained'
                    and isinstance(checkpoint, str) and checkpoint.startswith(
                        ('http://', 'https://')) and checkpoint not in urls):
                urls.append(checkpoint)
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(model)
    return urls


def hub_checkpoint_path(url: str) -> str:
    """Where ``torch.hub.load_url`` (so mmengine) keeps ``url``:
    ``torch.hub.get_dir()/checkpoints/<file name of the URL>``."""
    return osp.join(torch.hub.get_dir(), 'checkpoints',
                    osp.basename(urlparse(url).path))


def fetch_pretrained(url: str,
                     dst: str,
                     progress: bool = True,
                     timeout: float = 30.) -> None:
    """Download ``url`` to ``dst`` (through a temporary file beside it, so
    that a failed download leaves nothing).

    Args:
        url (str): The URL.
        dst (str): The file to write.
        progress (bool): Show a progress bar. Defaults to True.
        timeout (float): Seconds that a connection or a read may wait
            (a firewall that drops packets would otherwise hold a node for
            minutes), unless the process set a socket timeout itself.
            Defaults to 30.

    Raises:
        UserError: the download failed, naming the URL, the reason and
            where to put the file.
    """
    default_timeout = socket.getdefaulttimeout()
    if default_timeout is None:
        socket.setdefaulttimeout(timeout)
    try:
        os.makedirs(osp.dirname(dst), exist_ok=True)
        torch.hub.download_url_to_file(url, dst, progress=progress)
    except (OSError, http.client.HTTPException, RuntimeError) as err:
        raise UserError(
            f'pretrained weights {url} are not in the cache and could not '
            f'be downloaded ({type(err).__name__}: {one_line(err)}): put '
            f'the file at {dst} (on a machine with internet: python '
            'tools/offline/fetch_weights.py CONFIG; then copy it)') from err
    finally:
        socket.setdefaulttimeout(default_timeout)


def check_pretrained_weights(cfg: Any,
                             download: bool = True,
                             progress: bool = True) -> List[str]:
    """Make sure that every ``Pretrained`` http(s) checkpoint of ``cfg``
    (:func:`pretrained_urls`) is in torch's hub cache, downloading the
    missing ones.

    Args:
        cfg (mmengine.Config | dict): A config, or a model config.
        download (bool): Download a missing file. Defaults to True; False
            only checks.
        progress (bool): Show a download's progress bar. Defaults to True.

    Returns:
        list[str]: The cache paths of the checkpoints.

    Raises:
        UserError: a file is missing and could not be downloaded (or
            ``download`` is False), with the URL and the path where to put
            it.
    """
    paths = []
    for url in pretrained_urls(cfg):
        path = hub_checkpoint_path(url)
        if not osp.isfile(path) or osp.getsize(path) == 0:
            if not download:
                raise UserError(f'pretrained weights {url} are not in the '
                                f'cache: put the file at {path}')
            fetch_pretrained(url, path, progress)
        paths.append(path)
    return paths


class PretrainedWeightsHook(Hook):
    """Run :func:`check_pretrained_weights` in ``before_run``: after the
    Runner built the data (a missing dataset is reported first), right
    before ``Runner.train`` initialises the weights.

    Not registered: :func:`~hsnet_mm.utils.build_runner` adds it to a
    training Runner.

    Args:
        cfg (mmengine.Config | dict): The config (or model config).
    """

    priority = 'HIGHEST'

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def before_run(self, runner) -> None:
        check_pretrained_weights(self.cfg)
