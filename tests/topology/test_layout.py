"""The layout's ports, HAProxy's configuration rendered from deploy/haproxy.cfg.template, checked by HAProxy."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

from bot.settings import repo_root
from bot.topology import haproxy
from bot.topology.layout import LayoutPorts, plan

ROOT = repo_root()


def test_default_layout_ports() -> None:
    layout = plan(2)
    assert (layout.ports.assistant, layout.ports.desk, layout.ports.actions, layout.ports.stats) == (
        5005, 5006, 5055, 8404,
    )
    assert [(r.name, r.port) for r in layout.replicas] == [
        ("rasa-1", 5101), ("rasa-2", 5102), ("actions-1", 5201), ("actions-2", 5202), ("desk-1", 5301), ("desk-2", 5302)
    ]
    assert [r.health_url for r in layout.of("rasa")][0] == "http://127.0.0.1:5101/"
    assert layout.of("actions")[0].health_url == "http://127.0.0.1:5201/health"
    assert layout.of("desk")[0].health_url == "http://127.0.0.1:5301/health"


@pytest.mark.parametrize(
    ("replicas", "ports", "message"),
    [
        (0, LayoutPorts(), "between 1 and 99"),
        (100, LayoutPorts(), "between 1 and 99"),
        (2, LayoutPorts(desk=5005), "HAProxy (desk) and HAProxy (assistant) would both listen on port 5005"),
        (2, LayoutPorts(replica_base=5004), "rasa-1 and HAProxy (assistant) would both listen on port 5005"),
        (2, LayoutPorts(replica_base=65400), "desk-1 would listen on port 65601"),
    ],
)
def test_impossible_layouts_are_refused(replicas: int, ports: LayoutPorts, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        plan(replicas, ports)


def test_a_server_line_per_replica_with_its_health_check() -> None:
    text = haproxy.render(plan(3))
    for kind, check in (("rasa", "GET /"), ("actions", "GET /health"), ("desk", "GET /health")):
        backend = text.split(f"\nbackend {kind}\n", 1)[1].split("\n\n", 1)[0]
        assert f"option httpchk {check}\n" in backend
        servers = [line.strip() for line in backend.splitlines() if line.strip().startswith("server ")]
        assert servers == [f"server {kind}-{i} 127.0.0.1:{plan(3).of(kind)[i - 1].port} check" for i in (1, 2, 3)]
    sticky = text.split("\nbackend rasa_socketio\n", 1)[1].split("\n\n", 1)[0]
    assert "balance source" in sticky and "track rasa/rasa-3" in sticky
    assert "use_backend rasa_socketio if { path_beg /socket.io/ }" in text
    assert "bind 127.0.0.1:5055" in text  # the action servers are never public


def test_public_ports_listen_where_frontline_listen_host_says(monkeypatch) -> None:
    text = haproxy.render(plan(1, listen_host="0.0.0.0"))
    assert "bind 0.0.0.0:5005" in text and "bind 0.0.0.0:5006" in text
    assert "bind 127.0.0.1:5055" in text and "bind 127.0.0.1:8404" in text
    assert plan(1, listen_host="0.0.0.0").assistant_url == "http://127.0.0.1:5005"


@pytest.mark.parametrize("replicas", [1, 2, 5])
def test_haproxy_accepts_the_rendered_configuration(replicas: int, tmp_path: pathlib.Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy.render(plan(replicas)), encoding="utf-8")
    haproxy.check(haproxy.binary(), config)


def test_haproxy_check_reports_a_refusal(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy.render(plan(1)).replace("balance roundrobin", "balance sideways", 1))
    with pytest.raises(haproxy.HAProxyError, match=r"haproxy.cfg:\d+\] : balance only supports"):
        haproxy.check(haproxy.binary(), config)


def test_render_text_repeats_a_line_per_item_with_its_indent() -> None:
    assert haproxy.render_text("a {{x}}\n  {{lines}}\nb", {"x": "1", "lines": ["s1", "s2"]}) == "a 1\n  s1\n  s2\nb\n"
    with pytest.raises(KeyError, match="missing"):
        haproxy.render_text("{{missing}}", {})
    with pytest.raises(KeyError, match="line of its own"):
        haproxy.render_text("server {{lines}}", {"lines": ["a"]})


def test_the_shipped_example_is_the_template_rendered_for_two_replicas() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--production", "--print-haproxy"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin:/usr/sbin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "deploy" / "haproxy.cfg").read_text(encoding="utf-8"), (
        "deploy/haproxy.cfg is out of date: python -m bot run --production --print-haproxy > deploy/haproxy.cfg"
    )


def test_print_haproxy_follows_the_replicas_and_ports() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--production", "--replicas", "3", "--print-haproxy",
         "--assistant-port", "8005", "--replica-ports", "9000"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin:/usr/sbin"},
    )
    assert result.returncode == 0, result.stderr
    assert "bind 127.0.0.1:8005" in result.stdout
    assert "server rasa-3 127.0.0.1:9003 check" in result.stdout
    assert "server desk-3 127.0.0.1:9203 check" in result.stdout
