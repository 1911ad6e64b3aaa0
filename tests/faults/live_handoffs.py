"""Live handoffs as real clients make them, through HAProxy: customers on REST and agents on the desk API.

- A customer asks for a human (`/request_human`), learns its ticket, then writes numbered messages
  (`m<label>-<n>`). Like any REST client it sends again on a 5xx or a broken connection: the first attempt's
  outcome is unknown then, so Rasa may have stored the message already (the caller's at-least-once; counted in
  `Customer.resent`). A 429 is waited out (`Retry-After`); the message was not taken.
- An agent claims tickets and replies `r<label>-<n>` with an `Idempotency-Key`, sending the same key again on a
  5xx that is not the desk's own answer (HAProxy's, or a desk that died) or a broken connection, as the desk API
  asks (docs/desk-api.md). When the desk says to reload the ticket (the first request's desk died), a 502 (Rasa
  did not take the reply: kept `failed`) or a replayed 5xx, the agent reloads the ticket and does what the
  console offers: retries the failed reply, waits for a pending one, or sends one the desk never stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
import uuid
from typing import Any, Dict, List, Optional, Set, Tuple

import aiohttp

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=40)
GIVE_UP_SECONDS = 150.0  # a client that cannot get an answer this long reports the message as not accepted
Answer = Tuple[int, Any, Dict[str, str]]


async def _request(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Optional[Answer]:
    """(status, JSON or None, headers), or None when the connection broke or timed out (outcome unknown)."""
    try:
        async with http.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs) as response:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None  # HAProxy's own error pages are HTML
            return response.status, body, dict(response.headers)
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return None


@dataclasses.dataclass
class Customer:
    """One REST customer of a phase."""

    label: str
    sender: str
    code: Optional[str] = None  # the ticket
    accepted: List[str] = dataclasses.field(default_factory=list)  # texts REST answered 200, in order
    resent: int = 0  # attempts sent again after an unknown outcome (5xx, broken connection)
    refused: List[str] = dataclasses.field(default_factory=list)  # never answered 200 before giving up

    @property
    def conversation(self) -> str:
        return f"rest:{self.sender}"


class CustomerClient:
    """What customers do, through the assistant's public port."""

    def __init__(self, http: aiohttp.ClientSession, assistant_url: str, desk_url: str, desk_secret: str,
                 rng: random.Random) -> None:
        self.http, self.assistant_url, self.desk_url = http, assistant_url, desk_url
        self.desk_secret, self.rng = desk_secret, rng

    async def say(self, customer: Customer, text: str) -> bool:
        """Send one message until REST answers 200 (True) or the client gives up (False)."""
        deadline = time.monotonic() + GIVE_UP_SECONDS
        url = f"{self.assistant_url}/webhooks/rest/webhook"
        while time.monotonic() < deadline:
            answer = await _request(self.http, "POST", url, json={"sender": customer.sender, "message": text})
            if answer is not None and answer[0] == 200:
                customer.accepted.append(text)
                return True
            if answer is not None and answer[0] == 429:
                await asyncio.sleep(float(answer[2].get("Retry-After", "1")))
                continue
            if answer is not None and answer[0] < 500:
                raise AssertionError(f"REST refused {text!r} of {customer.sender}: {answer[:2]}")
            customer.resent += 1
            await asyncio.sleep(self.rng.uniform(0.3, 1.5))
        customer.refused.append(text)
        return False

    async def ticket_of(self, customer: Customer) -> str:
        """The code of the customer's open ticket (asked until the desk answers it)."""
        url = f"{self.desk_url}/internal/conversations/{customer.conversation}/ticket"
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            answer = await _request(self.http, "GET", url, headers={"X-Frontline-Secret": self.desk_secret})
            if answer is not None and answer[0] == 200:
                return str(answer[1]["id"])
            await asyncio.sleep(0.5)
        raise AssertionError(f"no ticket for {customer.conversation}")

    async def live(self, customer: Customer, messages: int, registry: Dict[str, Customer]) -> None:
        """After a random wait (handoffs spread over the phase), ask for a human, register the ticket for the
        agents, then write `messages` numbered messages."""
        await asyncio.sleep(self.rng.uniform(0.0, 8.0))
        assert await self.say(customer, "/request_human"), f"{customer.sender}: the handoff was never answered"
        customer.code = await self.ticket_of(customer)
        registry[customer.code] = customer
        for n in range(1, messages + 1):
            await asyncio.sleep(self.rng.uniform(0.2, 1.2))
            await self.say(customer, f"m{customer.label}-{n}")


@dataclasses.dataclass
class Reply:
    """One agent reply and what the desk answered."""

    code: str
    text: str
    agent: str
    message_id: Optional[int] = None  # set when the desk accepted it (201, a replay, a retry that sent it)
    keys_sent: int = 0  # Idempotency-Keys used (a new one only when the desk never stored the reply)
    resent: int = 0  # requests sent again with the same key after an unknown outcome
    reloads: int = 0  # times the agent reloaded the ticket to decide (desk died, 502, replayed 5xx)


class AgentClient:
    """One agent on the desk API behind HAProxy."""

    def __init__(self, http: aiohttp.ClientSession, desk_url: str, name: str, token: str,
                 rng: random.Random) -> None:
        self.http, self.desk_url, self.name, self.rng = http, desk_url, name, rng
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None, key: Optional[str] = None,
                   counter: Optional[Reply] = None) -> Optional[Answer]:
        """One state-changing call, sent again under the same key until the desk itself answers.

        Returns the desk's answer, or None when the client gave up.
        """
        headers = {**self.headers, **({"Idempotency-Key": key} if key else {})}
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            answer = await _request(self.http, method, f"{self.desk_url}{path}", json=body, headers=headers)
            in_progress = answer is not None and answer[0] == 409 and "in progress" in str(answer[1])
            if answer is not None and answer[1] is not None and answer[0] < 500 and not in_progress:
                return answer
            if answer is not None and answer[1] is not None and answer[0] == 502:
                return answer  # the desk's own 502: Rasa did not take it
            if answer is not None and answer[2].get("Idempotent-Replayed") == "true":
                return answer  # a replayed 5xx: sending the key again changes nothing
            if counter is not None and not in_progress:
                counter.resent += 1
            await asyncio.sleep(self.rng.uniform(0.3, 1.5))
        return None

    async def queued(self) -> List[str]:
        """Codes of the queued tickets."""
        answer = await _request(self.http, "GET", f"{self.desk_url}/api/tickets?status=queued&limit=500",
                                headers=self.headers)
        if answer is None or answer[0] != 200 or not isinstance(answer[1], list):
            return []
        return [t["id"] for t in answer[1]]

    async def ticket(self, code: str) -> Optional[Dict[str, Any]]:
        """The ticket with its messages, None while the desk does not answer."""
        answer = await _request(self.http, "GET", f"{self.desk_url}/api/tickets/{code}", headers=self.headers)
        return answer[1] if answer is not None and answer[0] == 200 else None

    async def claim(self, code: str) -> Optional[str]:
        """`answered` when the desk answered this agent's claim with 200 (first answer or its replay),
        `reloaded` when the client gave up on an answer and the reloaded ticket shows it as this agent's."""
        answer = await self.call("POST", f"/api/tickets/{code}/claim", key=f"claim-{uuid.uuid4().hex}")
        if answer is not None and answer[0] == 200:
            return "answered"
        # another agent's (409 claimed), or unknown: the desk died before answering ("reload the ticket"), a
        # replayed 5xx, no answer at all. The console shows the ticket as it is.
        deadline = time.monotonic() + GIVE_UP_SECONDS
        while time.monotonic() < deadline:
            ticket = await self.ticket(code)
            if ticket is not None:
                return "reloaded" if ticket.get("assignee") == self.name else None
            await asyncio.sleep(0.5)
        return None

    async def reply(self, reply: Reply) -> None:
        """Send one reply until the desk has it `sent` (`reply.message_id` set) or the client gives up."""
        deadline = time.monotonic() + GIVE_UP_SECONDS
        answer = await self._post_new(reply)
        while time.monotonic() < deadline:
            if answer is not None and answer[0] in (200, 201) and answer[1].get("status") == "sent":
                reply.message_id = int(answer[1]["id"])
                return
            if answer is not None and answer[0] in (400, 403, 404, 422):
                raise AssertionError(f"the desk refused {reply}: {answer[:2]}")
            reply.reloads += 1  # 502, 409 reload, replayed 5xx, a retry that found it not failed, gave up
            await asyncio.sleep(self.rng.uniform(0.5, 1.5))
            ticket = await self.ticket(reply.code)
            if ticket is None:
                answer = None
                continue
            mine = [m for m in ticket["messages"] if m["role"] == "agent" and m["text"] == reply.text]
            if not mine:
                answer = await self._post_new(reply)
            elif mine[0]["status"] == "sent":
                answer = (200, mine[0], {})
            elif mine[0]["status"] == "failed":
                answer = await self.call("POST", f"/api/tickets/{reply.code}/messages/{mine[0]['id']}/retry",
                                         key=f"retry-{uuid.uuid4().hex}", counter=reply)
            else:
                answer = None  # pending: the desk is sending it, or its sweep will

    async def _post_new(self, reply: Reply) -> Optional[Answer]:
        reply.keys_sent += 1
        return await self.call("POST", f"/api/tickets/{reply.code}/messages", {"text": reply.text},
                               key=f"reply-{uuid.uuid4().hex}", counter=reply)


@dataclasses.dataclass
class AgentWork:
    """What the agents of one phase did."""

    claims: Dict[str, Set[str]] = dataclasses.field(default_factory=dict)  # code -> agents answered 200
    replies: List[Reply] = dataclasses.field(default_factory=list)


async def work_tickets(agents: List[AgentClient], registry: Dict[str, Customer], expected: int,
                       replies_per_ticket: int, rng: random.Random) -> AgentWork:
    """Agents claim the phase's tickets as they arrive and answer each with numbered replies."""
    work = AgentWork()
    taken: Set[str] = set()
    replying: List[asyncio.Task] = []

    async def answer(agent: AgentClient, code: str) -> None:
        label = registry[code].label
        for n in range(1, replies_per_ticket + 1):
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            reply = Reply(code, f"r{label}-{n}", agent.name)
            work.replies.append(reply)
            await agent.reply(reply)

    async def agent_loop(agent: AgentClient) -> None:
        while len(taken) < expected:
            codes = [c for c in await agent.queued() if c in registry and c not in taken]
            rng.shuffle(codes)
            for code in codes[:1]:
                claimed = await agent.claim(code)
                if claimed == "answered":
                    work.claims.setdefault(code, set()).add(agent.name)
                if claimed is not None:
                    taken.add(code)
                    replying.append(asyncio.create_task(answer(agent, code)))
            await asyncio.sleep(rng.uniform(0.2, 0.8))

    await asyncio.wait_for(asyncio.gather(*(agent_loop(a) for a in agents)), GIVE_UP_SECONDS * 2)
    await asyncio.gather(*replying)
    return work
