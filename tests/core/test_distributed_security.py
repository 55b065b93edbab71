"""Every socket a distributed run listens on is bound to a loopback address."""

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from optimstep.core.distributed import DistributedRun
from optimstep.core.distributed.store import host_store

LISTEN = "0A"
"""TCP state of a listening socket in /proc/net/tcp (include/net/tcp_states.h)."""


def proc_address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Return the address of a /proc/net/tcp{,6} `local_address` field (host byte order words)."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(words) == 4 else socket.AF_INET6
    return ipaddress.ip_address(socket.inet_ntop(family, words))


def listening_inodes() -> dict[int, tuple[str, int]]:
    """Return (address, port) of every listening TCP socket in this network namespace, by inode."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN:
                address, port = fields[1].split(":")
                found[int(fields[9])] = (str(proc_address(address)), int(port, 16))
    return found


def socket_inodes(pid: int) -> set[int]:
    """Return the inodes of the sockets that process `pid` has open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:["):-1]))
    return inodes


def listeners(pid: int) -> list[tuple[str, int]]:
    """Return (address, port) of every TCP socket process `pid` listens on."""
    table = listening_inodes()
    return [table[inode] for inode in socket_inodes(pid) if inode in table]


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def test_proc_address_decodes_loopback():
    assert str(proc_address("0100007F")) == "127.0.0.1"


def test_proc_address_decodes_ipv6_any():
    assert str(proc_address("0" * 32)) == "::"


def test_store_listens_on_loopback_only():
    store = host_store()
    assert listeners(os.getpid()) == [("127.0.0.1", store.port)]
    del store


@pytest.fixture(scope="module")
def sockets():
    """Listening sockets of the launcher (this process) and of each rank, while a run is up."""
    with DistributedRun(strategy="ddp", world_size=2) as run:
        run.step()
        found = {"launcher": listeners(os.getpid())}
        for rank, pid in enumerate(run.pids):
            found[f"rank {rank}"] = listeners(pid)
    return found


@pytest.mark.slow
def test_launcher_listens_for_the_store(sockets):
    assert len(sockets["launcher"]) == 1


@pytest.mark.slow
def test_each_rank_listens_for_gloo(sockets):
    assert [name for name, found in sockets.items() if name != "launcher" and not found] == []


@pytest.mark.slow
def test_every_listener_is_on_loopback(sockets):
    outside = [(name, address, port) for name, found in sockets.items()
               for address, port in found if not is_loopback(address)]
    assert outside == []
