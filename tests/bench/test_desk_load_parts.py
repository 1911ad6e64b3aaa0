"""Parts of `python -m bot bench desk` that need no layout: each widget's own source address, the spread start."""

from __future__ import annotations

import asyncio
import ipaddress
import time

from bot.bench.desk_load import Start, source_address


def test_every_customer_connects_from_its_own_loopback_address() -> None:
    addresses = [source_address(index) for index in range(5000)]
    assert len(set(addresses)) == len(addresses)
    for address in addresses:
        parsed = ipaddress.ip_address(address)
        assert parsed.is_loopback and address != "127.0.0.1"
        assert not address.endswith((".0", ".255"))


def test_spread_customers_all_connect_first_then_ask_in_turn() -> None:
    events = []

    async def customer(start: Start, index: int) -> None:
        await asyncio.sleep(0.01 * (3 - index))  # the last connects first
        events.append(("connected", index))
        await start.connected()
        await start.my_turn(index)
        events.append(("asked", index, time.perf_counter() - start.began))

    async def drive() -> None:
        start = Start(4, 0.4)
        await asyncio.gather(*(customer(start, index) for index in range(4)))

    asyncio.run(drive())
    assert [e[0] for e in events[:4]] == ["connected"] * 4
    asked = [e for e in events if e[0] == "asked"]
    assert [e[1] for e in asked] == [0, 1, 2, 3]
    for _, index, at in asked:
        assert at >= index * 0.1 - 0.005
