# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Choose the checkpoint that ``tools/train.py --resume`` resumes from.

mmengine resumes from the path written in ``work_dir/last_checkpoint``
without checking it: a deleted, truncated or unreadable file stops the run
with a bare ``FileNotFoundError`` or an unpickling error, an empty file
resumes from ``''``, and a work dir moved elsewhere points at the old
place; a checkpoint with bytes overwritten loads without error and the loss
is NaN a few iterations later. :func:`pick_resume_checkpoint` instead looks
at the checkpoints that are there and picks the newest one that is intact
(every zip member's CRC-32) and finite (weights and optimizer state).
"""
import logging
import os
import os.path as osp
import re
from typing import List, Optional, Tuple

from mmengine.logging import print_log

from ..utils.checkpoint_file import finite_training_state, load_checkpoint_file
from ..utils.cli import UserError

#: Names the CheckpointHook gives the latest checkpoints.
RESUMABLE = re.compile(r'^(?:epoch|iter)_(\d+)\.pth$')
#: What a checkpoint needs to resume a run.
RESUME_KEYS = ('meta', 'state_dict', 'message_hub')


class NoValidCheckpointError(UserError):
    """The work dir has checkpoints, but none can be resumed from."""


def recorded_checkpoint(work_dir: str) -> Tuple[Optional[str], str]:
    """The checkpoint ``work_dir/last_checkpoint`` names, found here.

    Args:
        work_dir (str): The work dir.

    Returns:
        tuple[str | None, str]: The path (a path from before a move of the
        work dir is looked up by its name in ``work_dir``), or None; and
        what ``last_checkpoint`` says, for messages ('' without one).
    """
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None, ''
    with open(record, errors='replace') as f:
        text = f.read().strip()
    if not text:
        return None, 'an empty last_checkpoint'
    for path in (text, osp.join(work_dir, osp.basename(text))):
        if osp.isfile(path):
            return path, f'last_checkpoint ({text})'
    return None, f'a stale last_checkpoint ({text} does not exist)'


def resume_candidates(work_dir: str) -> List[str]:
    """Checkpoints that a run could resume from, newest first.

    ``epoch_<n>.pth`` / ``iter_<n>.pth`` by decreasing ``n``, with the one
    ``last_checkpoint`` names first when it has another name.
    """
    numbered = sorted(
        ((int(m.group(1)), name)
         for name in os.listdir(work_dir) if (m := RESUMABLE.match(name))),
        reverse=True)
    paths = [osp.join(work_dir, name) for _, name in numbered]
    recorded, _ = recorded_checkpoint(work_dir)
    if recorded is not None and osp.abspath(recorded) not in map(
            osp.abspath, paths):
        paths.insert(0, recorded)
    return paths


def resume_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from (None if it can).

    The file must be intact (a truncated zip fails to load, overwritten
    bytes fail the CRC-32 check), hold the keys a resume reads and have a
    finite model and optimizer state. The reason is one line.
    """
    try:
        ckpt = load_checkpoint_file(path)
        missing = [k for k in RESUME_KEYS if k not in ckpt]
        if missing:
            return f'it has no {", ".join(missing)} (not a training ' \
                   'checkpoint)'
        finite_training_state(ckpt, 'it')
    except (OSError, ValueError) as e:
        text = str(e).replace(f'{path}: ', '').replace(path, 'it')
        return ' '.join(text.split())
    return None


def _shortened(problem: str, limit: int = 160) -> str:
    return problem if len(problem) <= limit else problem[:limit - 3] + '...'


def pick_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The newest checkpoint of ``work_dir`` that a run can resume from.

    Checks the candidates of :func:`resume_candidates` newest first and
    returns the first that :func:`resume_problem` accepts. When that is not
    the one ``last_checkpoint`` names, or a newer one is broken, a warning
    names the broken one(s) and the chosen one.

    Args:
        work_dir (str): The work dir of the run.

    Returns:
        str | None: The checkpoint; None when the work dir has no
        checkpoint and no ``last_checkpoint`` (a fresh run).

    Raises:
        NoValidCheckpointError: there are checkpoints (or a
            ``last_checkpoint``), but none can be resumed from; lists why.
    """
    recorded, said = recorded_checkpoint(work_dir)
    candidates = resume_candidates(work_dir) if osp.isdir(work_dir) else []
    if not candidates and not said:
        print_log(
            f'--resume: {work_dir} has no checkpoint (no last_checkpoint, '
            'epoch_*.pth or iter_*.pth): training from scratch',
            logger='current',
            level=logging.WARNING)
        return None
    broken = []
    for path in candidates:
        problem = resume_problem(path)
        if problem is None:
            break
        broken.append((path, problem))
    else:
        found = [
            f'{osp.basename(path)}: {_shortened(problem)}'
            for path, problem in broken
        ]
        raise NoValidCheckpointError(
            f'--resume: no checkpoint in {work_dir} can be resumed from '
            f'(found {said or "no last_checkpoint"}; ' +
            ('; '.join(found) if found else 'no epoch_*.pth / iter_*.pth') +
            '). Remove --resume to train from scratch.')
    same = recorded is not None and osp.abspath(recorded) == osp.abspath(path)
    if broken or not same:
        skipped = ''.join(f'broken: {b}: {p}; ' for b, p in broken)
        print_log(
            f'--resume: found {said or "no last_checkpoint"}; {skipped}'
            f'resuming from {path}, the newest valid checkpoint',
            logger='current',
            level=logging.WARNING)
    return path
