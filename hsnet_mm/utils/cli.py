# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The error boundary of every command-line tool.

A *user error* -- a bad argument, a missing file or folder, a config typo
or unknown key, a wrong-typed ``--cfg-options`` value, no CUDA for
``--device cuda`` -- ends a tool with one line on stderr::

    test.py: error: checkpoint file not found: work_dirs/x.pth

and exit code 2 (argparse's code for a bad command line). Any other
exception is a bug: it propagates and Python prints its traceback (exit
code 1).

What counts as a user error: :class:`UserError` (the package raises it,
or a subclass, from its argument, config, checkpoint and data checks),
the ``OSError`` subclasses that name a path the user gave
(:data:`USER_ERRORS`), an ``OSError`` of a full disk, a full quota or a
read-only file system wherever it is raised (:data:`USER_ERRNOS`: a log
line, a config dump or a checkpoint written by mmengine mid-training) and
the extra types a tool passes to :func:`run_cli`. A plain ``ValueError``
is not one: bugs raise it too. Inside the boundary a log handler that
fails on a full disk raises (logging would print a ``--- Logging error
---`` traceback and go on).

Every tool ends with::

    if __name__ == '__main__':
        run_cli(main)
"""
import argparse
import contextlib
import errno
import logging
import os.path as osp
import sys
from typing import Any, Callable, Iterator, NoReturn, Optional, Sequence

from .fileio import NoSpaceError

#: Exit code of a user error (argparse's for a bad command line).
USER_ERROR_EXIT_CODE = 2


class UserError(ValueError):
    """A problem with what the user gave (an argument, a config, a file),
    which the user can fix; the tools print its message on one line.

    A ``ValueError``, so that code catching those keeps working.
    """


class UsageError(UserError):
    """A bad command line, as argparse found it."""


#: Exceptions that are user errors besides :class:`UserError`: a path the
#: user gave that is missing, of the wrong kind or not writable, and a full
#: disk.
USER_ERRORS = (UserError, FileNotFoundError, NotADirectoryError,
               IsADirectoryError, PermissionError, NoSpaceError)

#: ``OSError`` numbers that are user errors wherever they come from, with
#: what the user can do.
USER_ERRNOS = {
    errno.ENOSPC: 'free some space there or write elsewhere',
    errno.EDQUOT: 'free some space there or write elsewhere',
    errno.EROFS: 'choose a writable folder',
}


def is_user_error(err: BaseException, extra: Sequence[type] = ()) -> bool:
    """Whether ``err`` is a user error: :data:`USER_ERRORS`, one of the
    ``extra`` types or an ``OSError`` of :data:`USER_ERRNOS`."""
    if isinstance(err, (*USER_ERRORS, *extra)):
        return True
    return isinstance(err, OSError) and err.errno in USER_ERRNOS


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line.

    A ``KeyError`` loses its quotes; an ``OSError`` of
    :data:`USER_ERRNOS` (a full disk, a read-only file system) loses its
    ``[Errno n]`` and says what to do; a multi-line message is joined
    (after a line ending with ``:`` by a space, otherwise by ``'; '``).
    """
    if isinstance(err, KeyError) and len(err.args) == 1:
        text = str(err.args[0])
    elif isinstance(err, NoSpaceError) and err.strerror:
        text = err.strerror  # its own sentence, without '[Errno 28]'
    elif type(err) is OSError and err.errno in USER_ERRNOS and err.strerror:
        path = err.filename or _path_being_written(err)
        where = f' ({path})' if path else ''
        text = (f'{err.strerror.lower()}{where}; '
                f'{USER_ERRNOS[err.errno]}')
    else:
        text = str(err) or type(err).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    out = lines[0] if lines else ''
    for line in lines[1:]:
        out += (' ' if out.endswith(':') else '; ') + line
    return out


#: Names of the local variables that hold the file being written, in the
#: functions that write (mmengine's dumps, ``open``'s callers).
_PATH_LOCALS = ('file_path', 'filepath', 'filename', 'file', 'path', 'fname')


def _path_being_written(err: BaseException, depth: int = 3) -> Optional[str]:
    """The file a write was on, for an ``OSError`` without ``filename``
    (``f.close()`` flushing on a full disk): a path-like local variable of
    the innermost ``depth`` frames, or the file of a log handler there."""
    frames = []
    tb = err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames[-depth:]):
        for name in _PATH_LOCALS:
            value = frame.f_locals.get(name)
            if isinstance(value, str) and value:
                return value
        for value in frame.f_locals.values():
            if isinstance(value, logging.FileHandler):
                return value.baseFilename
    return None


def _raise_usage_error(parser: argparse.ArgumentParser,
                       message: str) -> NoReturn:
    raise UsageError(f'{message} (see {parser.prog} --help)')


def _raise_disk_errors(handler: logging.Handler,
                       record: logging.LogRecord) -> None:
    """``logging.Handler.handleError`` inside the boundary: a full disk or
    a read-only file system raises (naming the log file); any other error
    is printed as logging does."""
    err = sys.exc_info()[1]
    if isinstance(err, OSError) and err.errno in USER_ERRNOS:
        name = getattr(handler, 'baseFilename', None)
        if name and not err.filename:
            raise OSError(err.errno, err.strerror, name) from err
        raise err
    _HANDLE_ERROR(handler, record)


_HANDLE_ERROR = logging.Handler.handleError


@contextlib.contextmanager
def disk_errors_raise() -> Iterator[None]:
    """Make log handlers raise a full-disk or read-only error (instead of
    printing a traceback and going on) for as long as the block runs."""
    saved = logging.Handler.handleError
    logging.Handler.handleError = _raise_disk_errors
    try:
        yield
    finally:
        logging.Handler.handleError = saved


@contextlib.contextmanager
def argparse_raises() -> Iterator[None]:
    """Make ``ArgumentParser.error`` raise :class:`UsageError` instead of
    printing the usage and exiting, for as long as the block runs."""
    saved = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = _raise_usage_error
    try:
        yield
    finally:
        argparse.ArgumentParser.error = saved


def _prog(main: Callable) -> str:
    code = getattr(main, '__code__', None)
    return osp.basename(code.co_filename if code else sys.argv[0])


def call_cli(main: Callable[..., Any],
             argv: Optional[Sequence[str]] = None,
             user_errors: Sequence[type] = (),
             prog: Optional[str] = None) -> int:
    """Run a tool's ``main`` inside the error boundary; return its exit
    code.

    Args:
        main (Callable): The tool's ``main``; called as ``main()``, or
            ``main(argv)`` when ``argv`` is given. It returns None or an
            int exit code (anything else counts as 0).
        argv (Sequence[str], optional): The arguments. Defaults to None
            (``sys.argv``).
        user_errors (Sequence[type]): More exception types that are user
            errors for this tool. Defaults to ().
        prog (str, optional): The name in the error line. Defaults to the
            file of ``main``.

    Returns:
        int: ``main``'s code, or 2 after a user error (its line printed on
        stderr). A bug propagates with its traceback.
    """
    prog = prog or _prog(main)
    with argparse_raises(), disk_errors_raise():
        try:
            code = main() if argv is None else main(list(argv))
        except Exception as err:
            if not is_user_error(err, user_errors):
                raise
            with contextlib.suppress(OSError):  # stdout on the full disk
                sys.stdout.flush()
            print(f'{prog}: error: {one_line(err)}', file=sys.stderr)
            sys.stderr.flush()
            return USER_ERROR_EXIT_CODE
    if isinstance(code, bool) or not isinstance(code, int):
        return 0
    return code


def run_cli(main: Callable, user_errors: Sequence[type] = ()) -> NoReturn:
    """Run a tool's ``main`` in the error boundary and exit with its code
    (see :func:`call_cli`)."""
    sys.exit(call_cli(main, user_errors=user_errors))


def check_device(device: str) -> str:
    """Refuse a CUDA ``device`` (``cuda``, ``cuda:1``) this machine lacks.

    Returns:
        str: ``device``.

    Raises:
        UserError: not a device name, no CUDA, or no such CUDA device.
    """
    import torch
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise UserError(f'--device {device}: not a device ({e})') from e
    if str(device).startswith('cuda'):
        if not torch.cuda.is_available():
            raise UserError(f'--device {device}: no CUDA device is available '
                            '(use --device cpu)')
        index = str(device).partition(':')[2]
        count = torch.cuda.device_count()
        if index and (not index.isdigit() or int(index) >= count):
            raise UserError(f'--device {device}: this machine has {count} '
                            f'CUDA device(s), cuda:0..cuda:{count - 1}')
    return device
