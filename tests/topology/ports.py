"""Free ports for a whole production layout, for the tests that start one or check it."""

from __future__ import annotations

import socket

from bot.devtools import free_port
from bot.topology.layout import LayoutPorts, Plan, plan


def free_layout() -> Plan:
    """A layout on ports nobody uses (replicas on a base whose ports are free)."""
    for _ in range(50):
        base = free_port() - 1
        try:
            candidate = plan(2, LayoutPorts(free_port(), free_port(), free_port(), free_port(), base))
        except ValueError:  # two of the ports drawn coincide
            continue
        if all(_free(port) for _host, port in candidate.listening().values()):
            return candidate
    raise AssertionError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
