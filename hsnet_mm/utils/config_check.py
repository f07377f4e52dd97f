# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Catch config typos and wrong-typed overrides before a run starts.

mmengine builds each component with ``Type(**kwargs)``: an unknown key under
``--cfg-options`` (``model.foo=1``) fails late with a bare ``TypeError``
traceback, and a misspelled top-level key (``test_dataloder.batch_size=1``)
is never read, so the override silently does nothing.
:func:`check_config_keys` finds both before any work starts, naming the key
and the closest known one. :func:`check_option_types` refuses an override
whose type differs from the config's value (``train_cfg.max_epochs=two``).
Both raise user errors (:class:`~hsnet_mm.utils.cli.UserError`): the tools
print them on one line.
"""
import difflib
import inspect
import re
from typing import Any, Mapping, Optional, Set

import torch.utils.data
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from .cli import UserError

#: Top-level keys read outside ``Runner.from_cfg`` (Config, the Runner's
#: model wrapping, ``tools/*.py`` and hsnet-mm).
EXTRA_TOP_LEVEL = ('custom_imports', 'runner_type', 'model_wrapper_cfg',
                   'find_unused_parameters', 'compile', 'strategy', 'cfg',
                   'global_batch_size', 'work_dir', 'launcher')


class UnknownConfigKeyError(UserError):
    """A config key that no component reads."""


class ConfigValueTypeError(UserError):
    """A ``--cfg-options`` value whose type differs from the config's."""


def runner_keys() -> Set[str]:
    """The top-level keys ``Runner.from_cfg`` reads, plus
    :data:`EXTRA_TOP_LEVEL`."""
    source = inspect.getsource(Runner.from_cfg)
    return set(re.findall(r"cfg(?:\.get\(|\[)'(\w+)'",
                          source)) | set(EXTRA_TOP_LEVEL)


def _suggest(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ''


def _resolve(type_: Any) -> Optional[type]:
    """The class a ``type=`` names in any mmseg registry (None if unknown
    or ambiguous)."""
    if inspect.isclass(type_):
        return type_
    if not isinstance(type_, str):
        return None
    import mmseg.registry as registries
    from mmengine.registry import Registry
    found = set()
    with DefaultScope.overwrite_default_scope('mmseg'):
        for registry in vars(registries).values():
            if isinstance(registry, Registry):
                try:
                    obj = registry.get(type_)
                except Exception:  # a lazy import of another package
                    obj = None
                if inspect.isclass(obj):
                    found.add(obj)
    return found.pop() if len(found) == 1 else None


def accepted_args(cls: type) -> Optional[Set[str]]:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up
    the MRO; None when it accepts any."""
    names: Set[str] = set()
    for klass in cls.__mro__:
        init = vars(klass).get('__init__')
        if init is None:
            continue
        try:
            params = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):
            return None
        names |= {
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return None


def _check_path(cfg: Config, key: str) -> None:
    """Each level of ``a.b.c`` must be an argument of the component that
    holds it."""
    parts = key.split('.')
    node: Any = dict(cfg.items())
    for depth, part in enumerate(parts):
        if depth and isinstance(node, dict):
            cls = (
                torch.utils.data.DataLoader if depth == 1
                and parts[0].endswith('_dataloader') else _resolve(
                    node.get('type')))
            known = accepted_args(cls) if cls is not None else None
            if known is not None and part not in known | {'type', '_scope_'}:
                where = '.'.join(parts[:depth])
                raise UnknownConfigKeyError(
                    f"--cfg-options {key}: {cls.__name__} ({where}) has no "
                    f"argument '{part}'{_suggest(part, known)} (its "
                    f'arguments: {", ".join(sorted(known))})')
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit():
            if int(part) >= len(node):
                return
            node = node[int(part)]
        else:
            return


def check_config_keys(cfg: Config, cfg_options: Optional[dict] = None) -> None:
    """Refuse unknown keys of ``--cfg-options`` and misspelled top-level keys.

    - A top-level key of ``cfg_options`` must be read by the Runner (or
      hsnet-mm) or be defined by the config file and its bases.
    - A top-level key of the merged config that nothing reads and that is
      one typo away from a Runner key (``test_dataloder``) is refused.
    - Each deeper level of an option (``model.backbone.foo``) must be an
      argument of the component that holds it (its ``type``'s signature;
      ``*_dataloader`` dicts: ``torch.utils.data.DataLoader``). Components
      taking any ``**kwargs`` are not checked.

    Args:
        cfg (Config): The merged config.
        cfg_options (dict, optional): The ``--cfg-options`` overrides.

    Raises:
        UnknownConfigKeyError: naming the key and the closest known one.
    """
    known = runner_keys()
    defined = set(cfg.keys())
    if cfg.filename:
        defined = set(Config.fromfile(cfg.filename).keys())
    for key in cfg_options or {}:
        top = key.split('.')[0]
        if top not in known and top not in defined:
            raise UnknownConfigKeyError(
                f"--cfg-options {key}: no component reads the top-level key "
                f"'{top}'{_suggest(top, known | defined)}")
        _check_path(cfg, key)
    typos = [
        f"'{k}' (did you mean '{m[0]}'?)" for k in sorted(cfg.keys())
        if k not in known and (
            m := difflib.get_close_matches(k, sorted(known), n=1, cutoff=0.85))
    ]
    if typos:
        raise UnknownConfigKeyError(
            f'config {cfg.filename}: top-level key(s) that nothing reads: '
            f'{", ".join(typos)}')


def _type_name(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return 'list or tuple'
    return 'dict' if isinstance(value, Mapping) else type(value).__name__


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _same_kind(default: Any, value: Any) -> bool:
    """Whether ``value`` may replace ``default``: None on either side, the
    same type, an int for a float, a list for a tuple (and back) and any
    mapping for a mapping. Values of other types are not checked."""
    if default is None or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    for kind in (int, str, (list, tuple), Mapping):
        if isinstance(default, kind):
            return isinstance(value, kind)
    return True


def _lookup(cfg: Any, key: str) -> Any:
    """The value of the dotted ``key`` in ``cfg`` (list levels by index);
    raise KeyError when a level is missing."""
    node = cfg
    for part in key.split('.'):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif (isinstance(node, (list, tuple)) and part.isdigit()
              and int(part) < len(node)):
            node = node[int(part)]
        else:
            raise KeyError(key)
    return node


def check_option_types(cfg: Config, cfg_options: Optional[dict]) -> None:
    """Refuse ``--cfg-options`` values whose type differs from the value
    the config (before the overrides) has for that key.

    ``train_cfg.max_epochs=two`` (a str for an int) or
    ``optim_wrapper.optimizer.lr=[1]`` would otherwise fail deep inside a
    component, or run with a silently wrong setting. Keys the config does
    not have are left to :func:`check_config_keys`.

    Args:
        cfg (Config): The config as read, before ``cfg_options`` are merged.
        cfg_options (dict, optional): The ``--cfg-options`` overrides.

    Raises:
        ConfigValueTypeError: naming the key, the expected type and the
            config's value.
    """
    tree = dict(cfg.items())
    for key, value in (cfg_options or {}).items():
        try:
            default = _lookup(tree, key)
        except KeyError:
            continue
        if not _same_kind(default, value):
            raise ConfigValueTypeError(
                f'--cfg-options {key}={_short_repr(value)}: expected '
                f'{_type_name(default)} (the config has '
                f'{_short_repr(default)}), got {_type_name(value)}')
