# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A loopback HTTP server for the download tests: no test reaches the
network, but the real download code runs."""
import contextlib
import functools
import http.server
import threading
from pathlib import Path
from typing import Iterator


class _QuietHandler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 while the block runs; yield the base
    URL (``http://127.0.0.1:PORT``)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
