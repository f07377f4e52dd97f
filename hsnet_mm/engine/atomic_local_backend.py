# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A local mmengine file backend whose writes are atomic."""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from ..utils.fileio import atomic_write_bytes


@register_backend('atomic_local', force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` writing through a temporary file.

    ``put`` and ``put_text`` write ``.<name>.<random>.tmp`` in the target
    folder, flush it to disk, give it the umask's permissions and rename it
    over the target (:func:`hsnet_mm.utils.atomic_write_bytes`): a kill
    leaves the previous file or the new one, never a truncated one, and a
    full disk raises :class:`hsnet_mm.utils.NoSpaceError` with the path and
    the bytes needed. Select it with ``backend_args=dict(backend=
    'atomic_local')``, as :class:`SafeCheckpointHook` does for the
    checkpoints that ``Runner.save_checkpoint`` writes.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically (folders are created)."""
        atomic_write_bytes(filepath, obj)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically (folders are created)."""
        atomic_write_bytes(filepath, obj.encode(encoding))
