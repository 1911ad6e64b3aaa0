"""Free ports for the production layout in tests."""

from __future__ import annotations

from bot.topology.layout import Plan, free_plan


def free_layout() -> Plan:
    """A layout of 2 replicas on ports nobody uses."""
    return free_plan(2)
