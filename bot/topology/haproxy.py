"""HAProxy for the production layout: its configuration from `deploy/haproxy.cfg.template`, its command, its view.

The template holds `{{name}}` placeholders; a line holding only `{{name}}` becomes one line per server. A few
lines of substitution do it: HAProxy's own `${VAR}` expansion cannot repeat a server line N times, and a
template library (Jinja2 is not among our dependencies) would be a new dependency for one file.
"""

from __future__ import annotations

import csv
import io
import logging
import pathlib
import re
import shutil
import subprocess
import urllib.request
from typing import Dict, List, Mapping, Optional, Union

from bot.settings import repo_root
from bot.topology.layout import LOOPBACK, Plan

logger = logging.getLogger(__name__)

TEMPLATE = pathlib.Path("deploy") / "haproxy.cfg.template"
EXAMPLE = pathlib.Path("deploy") / "haproxy.cfg"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
INSTALL_HINT = "install HAProxy: `make install-haproxy` (Debian: apt-get install haproxy)"


class HAProxyError(RuntimeError):
    """HAProxy is missing, or refuses its configuration."""


def values(layout: Plan) -> Dict[str, Union[str, List[str]]]:
    """The template's values for a layout: ports, and the server lines of each backend."""

    def servers(kind: str) -> List[str]:
        return [f"server {r.name} {LOOPBACK}:{r.port} check" for r in layout.of(kind)]

    return {
        "listen_host": layout.listen_host,
        "assistant_port": str(layout.ports.assistant),
        "desk_port": str(layout.ports.desk),
        "actions_port": str(layout.ports.actions),
        "stats_port": str(layout.ports.stats),
        "rasa_servers": servers("rasa"),
        # the same servers, their state tracked from the `rasa` backend's checks (one check per server)
        "rasa_socketio_servers": [
            f"server {r.name} {LOOPBACK}:{r.port} track rasa/{r.name}" for r in layout.of("rasa")
        ],
        "desk_servers": servers("desk"),
        "actions_servers": servers("actions"),
    }


def render_text(template: str, variables: Mapping[str, Union[str, List[str]]]) -> str:
    """Fill a template: `{{name}}` by its value; a line holding only `{{name}}` by one line per list item.

    Raises:
        KeyError: a placeholder without a value, or a list used inside a line.
    """
    lines: List[str] = []
    for line in template.splitlines():
        alone = _PLACEHOLDER.fullmatch(line.strip())
        if alone:
            value = variables[alone.group(1)]
            indent = line[: len(line) - len(line.lstrip())]
            items = value if isinstance(value, list) else [value]
            lines.extend(indent + item for item in items)
            continue

        def one(match: re.Match) -> str:
            value = variables[match.group(1)]
            if isinstance(value, list):
                raise KeyError(f"{match.group(1)} is a list of lines: put it on a line of its own")
            return value

        lines.append(_PLACEHOLDER.sub(one, line))
    return "\n".join(lines) + "\n"


def render(layout: Plan, root: Optional[pathlib.Path] = None) -> str:
    """HAProxy's configuration for a layout, from the shipped template."""
    template = ((root or repo_root()) / TEMPLATE).read_text(encoding="utf-8")
    return render_text(template, values(layout))


def binary() -> str:
    """The `haproxy` executable.

    Raises:
        HAProxyError: HAProxy is not installed.
    """
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if not found:
        raise HAProxyError(f"HAProxy is not installed: {INSTALL_HINT}")
    return found


def version(executable: str) -> str:
    """HAProxy's version line, e.g. `HAProxy version 2.6.12-1+deb12u4 2026/10/17`."""
    result = subprocess.run([executable, "-v"], capture_output=True, text=True, timeout=10)
    return result.stdout.splitlines()[0] if result.stdout else "unknown"


def check(executable: str, config: pathlib.Path) -> None:
    """Have HAProxy check a configuration file (`haproxy -c`).

    Raises:
        HAProxyError: HAProxy refuses it, with what it said.
    """
    result = subprocess.run([executable, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).splitlines()
        alerts = [line.split(" : ", 1)[-1] for line in said if "[ALERT]" in line] or said
        raise HAProxyError(f"HAProxy refuses {config}: " + "; ".join(alerts))


def command(executable: str, config: pathlib.Path) -> List[str]:
    """HAProxy in the foreground (`-db`), as a supervised process."""
    return [executable, "-db", "-f", str(config)]


def server_states(stats_url: str, timeout: float = 2.0) -> Dict[str, Dict[str, str]]:
    """HAProxy's view of its servers: `backend/server` → the statistics row (`status`, `check_status`, `stot`…).

    Args:
        stats_url: the statistics page (`Plan.stats_url`).
        timeout: seconds to wait for it.
    """
    with urllib.request.urlopen(f"{stats_url};csv", timeout=timeout) as response:
        text = response.read().decode("utf-8")
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {
        f"{row['pxname']}/{row['svname']}": row
        for row in rows
        if row.get("svname") not in ("FRONTEND", "BACKEND")
    }
