"""Where each process of the production layout listens: the plan the launcher and HAProxy's configuration share.

Public (HAProxy, on `FRONTLINE_LISTEN_HOST`, 127.0.0.1 by default): 5005 the assistant (channels, socket.io,
Rasa's HTTP API), 5006 the desk. Internal (HAProxy, always on 127.0.0.1): 5055 the action servers (what every
Rasa server's action endpoint points at), 8404 HAProxy's statistics page. Replicas (127.0.0.1): `rasa-i` on
base + i, `actions-i` on base + 100 + i, `desk-i` on base + 200 + i, with base 5100 by default: 5101…,
5201…, 5301….
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from typing import Dict, List, Tuple

logger = logging.getLogger(__name__)

KINDS = ("rasa", "actions", "desk")
# Replica port = base + offset + index; the offsets leave room for 99 replicas of each kind.
KIND_OFFSETS = {"rasa": 0, "actions": 100, "desk": 200}
MAX_REPLICAS = 99
# What HAProxy and the supervisor ask each kind to know it is alive.
HEALTH_PATHS = {"rasa": "/", "actions": "/health", "desk": "/health"}
LOOPBACK = "127.0.0.1"


@dataclasses.dataclass(frozen=True)
class LayoutPorts:
    """HAProxy's ports and the base of the replicas' ports."""

    assistant: int = 5005
    desk: int = 5006
    actions: int = 5055
    stats: int = 8404
    replica_base: int = 5100


@dataclasses.dataclass(frozen=True)
class Replica:
    """One process behind HAProxy: `rasa-1`, `actions-2`, `desk-1`…"""

    kind: str
    index: int
    port: int

    @property
    def name(self) -> str:
        """The process's name: its pid file, log file and HAProxy server name."""
        return f"{self.kind}-{self.index}"

    @property
    def health_url(self) -> str:
        """The URL that answers while the process is alive."""
        return f"http://{LOOPBACK}:{self.port}{HEALTH_PATHS[self.kind]}"


@dataclasses.dataclass(frozen=True)
class Plan:
    """The whole layout: HAProxy's ports, the public host and every replica."""

    ports: LayoutPorts
    listen_host: str
    replicas: Tuple[Replica, ...]

    def of(self, kind: str) -> List[Replica]:
        """The replicas of one kind, in order."""
        return [replica for replica in self.replicas if replica.kind == kind]

    @property
    def connect_host(self) -> str:
        """The address our own processes use to reach HAProxy's public ports."""
        return LOOPBACK if self.listen_host in ("0.0.0.0", "", "*", "::") else self.listen_host

    @property
    def assistant_url(self) -> str:
        """The assistant's public URL, through HAProxy."""
        return f"http://{self.connect_host}:{self.ports.assistant}"

    @property
    def desk_url(self) -> str:
        """The desk's public URL, through HAProxy."""
        return f"http://{self.connect_host}:{self.ports.desk}"

    @property
    def actions_url(self) -> str:
        """The action servers' internal URL, through HAProxy (Rasa's action endpoint)."""
        return f"http://{LOOPBACK}:{self.ports.actions}"

    @property
    def stats_url(self) -> str:
        """HAProxy's statistics page (internal)."""
        return f"http://{LOOPBACK}:{self.ports.stats}/stats"

    @property
    def haproxy_health_url(self) -> str:
        """What answers 200 while HAProxy runs (its `monitor-uri`)."""
        return f"http://{LOOPBACK}:{self.ports.stats}/health"

    def listening(self) -> Dict[str, Tuple[str, int]]:
        """Every (host, port) the layout binds, by what binds it."""
        bound = {
            "HAProxy (assistant)": (self.listen_host, self.ports.assistant),
            "HAProxy (desk)": (self.listen_host, self.ports.desk),
            "HAProxy (actions)": (LOOPBACK, self.ports.actions),
            "HAProxy (statistics)": (LOOPBACK, self.ports.stats),
        }
        bound.update({replica.name: (LOOPBACK, replica.port) for replica in self.replicas})
        return bound


def plan(replicas: int, ports: LayoutPorts = LayoutPorts(), listen_host: str = LOOPBACK) -> Plan:
    """The layout of `replicas` processes of each kind.

    Args:
        replicas: how many Rasa servers, action servers and desks (each), 1 to 99.
        ports: HAProxy's ports and the replicas' base port.
        listen_host: where HAProxy's public ports listen.

    Returns:
        The plan.

    Raises:
        ValueError: a replica count out of range, or two listeners on one port.
    """
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"--replicas must be between 1 and {MAX_REPLICAS}, not {replicas}")
    servers = tuple(
        Replica(kind, index, ports.replica_base + KIND_OFFSETS[kind] + index)
        for kind in KINDS
        for index in range(1, replicas + 1)
    )
    layout = Plan(ports=ports, listen_host=listen_host, replicas=servers)
    seen: Dict[int, str] = {}
    for name, (_host, port) in layout.listening().items():
        if not 0 < port < 65536:
            raise ValueError(f"{name} would listen on port {port}, outside 1–65535")
        if port in seen:
            raise ValueError(f"{name} and {seen[port]} would both listen on port {port}")
        seen[port] = name
    return layout


def port_free(host: str, port: int) -> bool:
    """True when a server could listen on (host, port) now (a port in TIME_WAIT counts as free, as it does for
    the servers, which set SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_plan(replicas: int, tries: int = 50) -> Plan:
    """A plan of `replicas` processes of each kind on loopback ports nobody uses (tests and benchmarks run the
    layout beside whatever else listens).

    Raises:
        RuntimeError: no free set of ports found in `tries` draws.
    """
    from bot.devtools import free_port

    for _ in range(tries):
        base = free_port() - 1
        try:
            candidate = plan(replicas, LayoutPorts(free_port(), free_port(), free_port(), free_port(), base))
        except ValueError:  # two of the ports drawn coincide
            continue
        if all(port_free(LOOPBACK, port) for _host, port in candidate.listening().values()):
            return candidate
    raise RuntimeError(f"no free ports for a layout of {replicas} replicas")
