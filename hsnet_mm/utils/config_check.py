# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Catch config typos and wrong-typed overrides before a run starts.

mmengine builds each component with ``Type(**kwargs)``: an unknown key under
``--cfg-options`` (``model.foo=1``) fails late with a bare ``TypeError``
traceback, and a misspelled top-level key (``test_dataloder.batch_size=1``)
is never read, so the override silently does nothing.
:func:`check_config_keys` finds both before any work starts, naming the key
and the closest known one (``default_hooks.chekpoint``, a hook without
``type``, too). :func:`check_option_types` refuses an override whose type
differs from the config's value, or from the component's default for a key
the config leaves out (``train_cfg.max_epochs=two``).
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
                   'global_batch_size', 'work_dir', 'launcher',
                   'load_from_partial')

#: Hooks every Runner has (``Runner.register_default_hooks``).
RUNNER_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger',
                        'param_scheduler', 'checkpoint')


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


def _forwarded_kwargs() -> dict:
    """Classes whose ``**kwargs`` go to one known function."""
    from mmengine.hooks import CheckpointHook
    return {CheckpointHook: Runner.save_checkpoint}


def _init_params(init: Any) -> list:
    return list(inspect.signature(init).parameters.values())[1:]


def accepted_args(cls: type) -> Optional[Set[str]]:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up
    the MRO (and into ``Runner.save_checkpoint`` for a ``CheckpointHook``);
    None when it accepts any."""
    names: Set[str] = set()
    forwarded = _forwarded_kwargs()
    for klass in cls.__mro__:
        init = vars(klass).get('__init__')
        if init is None:
            continue
        try:
            params = _init_params(init)
        except (TypeError, ValueError):
            return None
        names |= {
            p.name
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
        if klass in forwarded:
            return names | {p.name for p in _init_params(forwarded[klass])}
    return None


def _holder_class(parts: list, node: Any) -> Optional[type]:
    """The class built from ``node``, the dict at ``parts`` (None if
    unknown)."""
    if len(parts) == 1 and parts[0].endswith('_dataloader'):
        return torch.utils.data.DataLoader
    return _resolve(node.get('type')) if isinstance(node, dict) else None


def _paths_to(node: Any, first: str, depth: int = 3) -> list:
    """Dotted paths in ``node`` (dicts only, ``depth`` levels) that end
    with the key ``first``."""
    if not isinstance(node, Mapping) or depth < 0:
        return []
    found = [first] if first in node else []
    for key, value in node.items():
        found += [f'{key}.{p}' for p in _paths_to(value, first, depth - 1)]
    return found


def _check_path(cfg: Config, key: str) -> None:
    """Each level of ``a.b.c`` must be an argument of the component that
    holds it."""
    parts = key.split('.')
    node: Any = dict(cfg.items())
    for depth, part in enumerate(parts):
        if depth and isinstance(node, dict):
            cls = _holder_class(parts[:depth], node)
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
      hsnet-mm) or be defined by the config file and its bases; one found
      deeper is suggested (``optimizer.lr``: ``optim_wrapper.optimizer.lr``).
    - A top-level key of the merged config that nothing reads and that is
      one typo away from a Runner key (``test_dataloder``) is refused.
    - Each deeper level of an option (``model.backbone.foo``) must be an
      argument of the component that holds it (its ``type``'s signature;
      ``*_dataloader`` dicts: ``torch.utils.data.DataLoader``). Components
      taking any ``**kwargs`` are not checked (a ``CheckpointHook``'s go
      to ``Runner.save_checkpoint``: checked against it).
    - Each ``default_hooks`` entry must be None or have a ``type``
      (``default_hooks.chekpoint.interval=1`` makes one without).

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
            hint = _suggest(top, known | defined)
            nested = [
                f'{k}.{p}' for k, v in cfg.items() if k != top
                for p in _paths_to(v, top)
            ]
            if not hint and len(nested) == 1:  # optimizer.lr
                hint = f"; did you mean '{nested[0]}{key[len(top):]}'?"
            raise UnknownConfigKeyError(
                f"--cfg-options {key}: no component reads the top-level key "
                f"'{top}'{hint}")
        _check_path(cfg, key)
    _check_default_hooks(cfg, cfg_options or {})
    typos = [
        f"'{k}' (did you mean '{m[0]}'?)" for k in sorted(cfg.keys())
        if k not in known and (
            m := difflib.get_close_matches(k, sorted(known), n=1, cutoff=0.85))
    ]
    if typos:
        raise UnknownConfigKeyError(
            f'config {cfg.filename}: top-level key(s) that nothing reads: '
            f'{", ".join(typos)}')


def _check_default_hooks(cfg: Config, cfg_options: dict) -> None:
    """Each ``default_hooks`` entry must be None or a hook with a ``type``
    (``default_hooks.chekpoint.interval=1`` makes one without: mmengine
    fails with a KeyError that never names it)."""
    hooks = cfg.get('default_hooks') or {}
    names = {
        n
        for n, v in hooks.items() if not isinstance(v, dict) or 'type' in v
    } | set(RUNNER_DEFAULT_HOOKS)
    for name, hook in hooks.items():
        if isinstance(hook, dict) and 'type' not in hook:
            keys = [
                k for k in cfg_options
                if k.split('.')[:2] == ['default_hooks', name]
            ]
            where = (f'--cfg-options {keys[0]}'
                     if keys else f'config {cfg.filename}')
            raise UnknownConfigKeyError(
                f"{where}: there is no default hook '{name}'"
                f'{_suggest(name, names)} (hooks: {", ".join(sorted(names))}'
                "; a new hook needs a 'type')")


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
            default, origin = _lookup(tree, key), 'the config has'
        except KeyError:
            default, origin = _signature_default(tree, key)
        if not _same_kind(default, value):
            raise ConfigValueTypeError(
                f'--cfg-options {key}={_short_repr(value)}: expected '
                f'{_type_name(default)} ({origin} '
                f'{_short_repr(default)}), got {_type_name(value)}')


def _signature_default(tree: dict, key: str) -> tuple:
    """(default, origin) of an argument the config leaves out: the default
    in the signature of the component holding it; (None, '') if unknown."""
    parts = key.split('.')
    try:
        holder = _lookup(tree, '.'.join(parts[:-1])) if parts[:-1] else None
    except KeyError:
        return None, ''
    cls = _holder_class(parts[:-1], holder) if holder is not None else None
    for klass in (cls.__mro__ if cls is not None else ()):
        init = vars(klass).get('__init__')
        try:
            params = {p.name: p for p in _init_params(init)} if init else {}
        except (TypeError, ValueError):
            break
        param = params.get(parts[-1])
        if param is not None and param.default is not param.empty:
            return param.default, f"{cls.__name__}'s default is"
    return None, ''
