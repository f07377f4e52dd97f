# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""mmengine's CheckpointHook made safe against kills and full disks."""
import contextlib
import os
import os.path as osp
import re
from typing import Iterator, List, Optional, Tuple

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

from ...utils.checkpoint import load_checkpoint_file
from ...utils.fileio import NoSpaceError, atomic_write_text, remove_temp_files

#: Temporary files of checkpoint writes (``.epoch_3.pth.ab12cd.tmp``).
CHECKPOINT_TEMP = re.compile(r'^\.(.+\.pth|last_checkpoint)\..+\.tmp$')


def step_pattern(template: str) -> 're.Pattern':
    """A regex of the names ``template.format(step)``, the step captured."""
    return re.compile('^' + re.escape(template).replace(r'\{\}', r'(\d+)') +
                      '$')


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose files survive a kill and a full disk.

    Same arguments and files as mmengine's :class:`CheckpointHook`; what
    changes is how they are written:

    - every checkpoint (latest, best) and ``last_checkpoint`` is written to a
      temporary file in its folder, flushed and renamed over the target
      (``backend_args=dict(backend='atomic_local')`` unless other
      ``backend_args`` are given), so a kill leaves complete files only;
    - an outdated checkpoint (``max_keep_ckpts``) or the previous best is
      removed only after the new checkpoints are complete;
    - a full disk stops training with the path, the bytes needed and the
      checkpoint that was kept;
    - at the start of a run, temporary files of a killed save are removed,
      a best checkpoint that was complete but not yet recorded in the
      resumed checkpoint is adopted (so a worse epoch cannot become "best"),
      and best checkpoints whose removal a kill interrupted are removed.

    Args:
        *args: See :class:`mmengine.hooks.CheckpointHook`.
        **kwargs: See :class:`mmengine.hooks.CheckpointHook`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        local = self.out_dir is None or '://' not in str(self.out_dir)
        if self.backend_args is None and self.file_client_args is None \
                and local:
            self.backend_args = dict(backend='atomic_local')
        self._pending: Optional[List[str]] = None

    # -- start of a run ----------------------------------------------------
    def before_train(self, runner) -> None:
        """Set up as the base hook, then clean up after a killed save."""
        super().before_train(runner)
        if is_main_process() and osp.isdir(self.out_dir):
            for path in remove_temp_files(
                    self.out_dir, recursive=False, pattern=CHECKPOINT_TEMP):
                runner.logger.warning(
                    f'removed {path}, a checkpoint write that was '
                    'interrupted')
        if self.save_best and osp.isdir(self.out_dir):
            for key in self.key_indicators:
                self._reconcile_best(runner, key)

    def _best_keys(self, key: str) -> Tuple[str, str]:
        """The message-hub keys of the score and path of ``key``'s best."""
        if len(self.key_indicators) == 1:
            return 'best_score', 'best_ckpt'
        return f'best_score_{key}', f'best_ckpt_{key}'

    def _reconcile_best(self, runner, key: str) -> None:
        """Adopt a complete, unrecorded best file; drop superseded ones."""
        score_key, path_key = self._best_keys(key)
        hub = runner.message_hub
        pattern = step_pattern(f'best_{key}_{self.filename_tmpl}'.replace(
            '/', '_'))
        found = sorted(((int(m.group(1)), osp.join(self.out_dir, name))
                        for name in os.listdir(self.out_dir)
                        if (m := pattern.match(name))),
                       reverse=True)
        recorded = hub.get_info(path_key)
        match = pattern.match(osp.basename(recorded)) if recorded else None
        recorded_step = int(match.group(1)) if match else -1
        now = runner.epoch if self.by_epoch else runner.iter
        for step, path in found:
            if step <= recorded_step or step > now:
                continue
            try:
                info = load_checkpoint_file(path)['message_hub']
                score = info['runtime_info'][score_key]
            except (ValueError, KeyError, TypeError) as e:
                runner.logger.warning(f'{path} is no usable best checkpoint '
                                      f'and is ignored: {e}')
                continue
            best = hub.get_info(score_key)
            if best is None or self.is_better_than[key](score, best):
                runner.logger.warning(
                    f'adopting best checkpoint {path} ({key} {score:.4f}), '
                    'saved before the run was interrupted')
                hub.update_info(score_key, score)
                hub.update_info(path_key, path)
                if len(self.key_indicators) == 1:
                    self.best_ckpt_path = path
                else:
                    self.best_ckpt_path_dict[key] = path
                recorded_step = step
            break
        if not is_main_process():
            return
        for step, path in found:
            if step < recorded_step:
                runner.logger.warning(
                    f'removing {path}: superseded by a later best checkpoint '
                    '(its removal was interrupted)')
                os.remove(path)

    # -- saving --------------------------------------------------------------
    @contextlib.contextmanager
    def _removals_after_saves(self) -> Iterator[None]:
        """Defer the file removals of the base hook until its saves are
        complete; drop them if a save fails."""
        if self._pending is not None:  # nested: the outer call removes
            yield
            return
        backend = self.file_backend
        self._pending = []
        backend.remove = backend.rmtree = self._pending.append
        try:
            yield
        finally:
            del backend.remove, backend.rmtree
            pending, self._pending = self._pending, None
        for path in pending:
            if backend.isfile(path):
                backend.remove(path)
            elif backend.isdir(path):
                backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        """Save ``filename_tmpl.format(step)``, then update
        ``last_checkpoint``, then remove the outdated checkpoint."""
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        previous = self.last_ckpt
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        try:
            runner.save_checkpoint(
                self.out_dir,
                ckpt_filename,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
        except NoSpaceError as e:
            kept = previous or 'none (this was the first checkpoint)'
            raise NoSpaceError(
                e.errno, f'{e.strerror} Training stopped; the previous '
                f'checkpoint is kept: {kept}') from e
        if not is_main_process():
            return
        atomic_write_text(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    def _save_best_checkpoint(self, runner, metrics: dict) -> None:
        """The base hook's best-checkpoint logic, with the previous best
        removed only after the new best and the epoch checkpoint recording
        it are complete."""
        previous = (
            self.best_ckpt_path if len(self.key_indicators) == 1 else dict(
                self.best_ckpt_path_dict))
        try:
            with self._removals_after_saves():
                super()._save_best_checkpoint(runner, metrics)
        except NoSpaceError as e:
            raise NoSpaceError(
                e.errno, f'{e.strerror} Training stopped; the previous best '
                f'checkpoint is kept: {previous}') from e
