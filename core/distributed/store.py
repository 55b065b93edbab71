"""The rendezvous store, listening on 127.0.0.1 only."""

from __future__ import annotations

import socket
from datetime import timedelta

from torch.distributed import TCPStore

LOOPBACK = "127.0.0.1"
"""The only address the store and the ranks' sockets use."""


def host_store() -> TCPStore:
    """Start the store's server on 127.0.0.1 and a free port; return the server's own client.

    TCPStore binds its server to every interface even when given a loopback host name
    (torch 2.13). So the listening socket is bound here and handed over with
    `master_listen_fd`, and the store owns the descriptor from then on.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((LOOPBACK, 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        store = TCPStore(LOOPBACK, port, None, True, wait_for_workers=False,
                         master_listen_fd=listener.fileno())
    except BaseException:
        listener.close()
        raise
    listener.detach()
    return store


def connect_store(port: int, timeout: float) -> TCPStore:
    """Connect a rank to the launcher's store at 127.0.0.1:`port`."""
    return TCPStore(LOOPBACK, port, None, False, timeout=timedelta(seconds=timeout))
