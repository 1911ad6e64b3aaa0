"""Finding 1: the perimeter of the running stack. Every server listens on loopback only, and the action server
runs actions for the Rasa server alone (`FRONTLINE_ACTION_TOKEN`), so nobody else can open an emergency VIP
ticket for a WeChat follower or rewrite a ticket's rating."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any, Dict, List, Optional

import pytest
import requests

from bot.conversations import conversation_id
from bot.run import Stack

pytestmark = pytest.mark.stack


def other_addresses() -> List[str]:
    """This machine's IPv4 addresses other than loopback (where an outsider on the network would connect)."""
    found = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(info[4][0])
    except socket.gaierror:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            found.add(probe.getsockname()[0])
        except OSError:
            pass
    return sorted(a for a in found if not a.startswith("127."))


def reachable(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def test_servers_refuse_connections_from_the_network(stack: Stack) -> None:
    addresses = other_addresses()
    if not addresses:
        pytest.skip("this machine has no network interface besides loopback")
    for name, port in (("rasa", stack.ports.rasa), ("actions", stack.ports.actions), ("desk", stack.ports.desk)):
        assert reachable("127.0.0.1", port), name
        for address in addresses:
            assert not reachable(address, port), f"the {name} server answers on {address}:{port}"


def forged_call(action: str, sender: str, slots: Dict[str, Any], channel: str, entities: Optional[list] = None) -> Dict:
    """An action call as the Rasa server makes it, for a tracker the caller made up."""
    user = {
        "event": "user", "timestamp": 1764554400.0, "text": "hello", "input_channel": channel,
        "parse_data": {"intent": {"name": "request_human", "confidence": 1.0}, "entities": entities or [],
                       "text": "hello"},
        "metadata": {},
    }
    tracker = {
        "sender_id": sender, "slots": slots, "latest_message": user["parse_data"], "events": [user],
        "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
        "latest_input_channel": channel,
    }
    return {"next_action": action, "sender_id": sender, "tracker": tracker, "domain": {}, "version": "3.6.21"}


def ticket_of(stack: Stack, conversation_id: str) -> Optional[Dict[str, Any]]:
    internal = {"X-Frontline-Secret": stack.env["FRONTLINE_DESK_SECRET"]}
    response = requests.get(f"{stack.desk_url}/internal/conversations/{conversation_id}/ticket", headers=internal,
                            timeout=10)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-the-token"},
    {"Authorization": "not-the-scheme"},
], ids=["no token", "wrong token", "malformed header"])
def test_action_server_refuses_unauthenticated_handoff(stack: Stack, headers: Dict[str, str]) -> None:
    """A WeChat follower's openid, any customer id, VIP, an emergency: the action server runs none of it."""
    openid = f"oWeChatVictim{uuid.uuid4().hex[:12]}"
    slots = {"handoff_reason": "emergency", "handoff_grade": "A", "customer_id": "victim-42",
             "customer_tier": "vip", "language": "zh"}
    call = forged_call("action_handoff", openid, slots, "wechat")
    response = requests.post(f"{stack.actions_url}/webhook", json=call, headers=headers, timeout=30)
    assert response.status_code == 401, response.text
    assert "events" not in response.text
    assert ticket_of(stack, openid) is None
    listing = requests.get(f"{stack.actions_url}/actions", headers=headers, timeout=10)
    assert listing.status_code == 401


def test_action_server_refuses_forged_survey_rating(stack: Stack) -> None:
    """A real ticket; a stranger tries to rate it 1 through `action_survey_answer`."""
    sender = f"perimeter-survey-{uuid.uuid4().hex[:8]}"
    said = requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": "/request_human"},
                         timeout=60)
    assert said.status_code == 200 and said.json(), said.text  # the real handoff ran its action: the token works
    conversation = conversation_id("rest", sender)
    ticket = ticket_of(stack, conversation)
    assert ticket is not None and ticket["rating"] is None
    slots = {"ticket_id": ticket["id"], "survey_pending": True, "language": "zh"}
    entities = [{"entity": "rating", "value": "1", "start": 0, "end": 1}]
    call = forged_call("action_survey_answer", conversation, slots, "rest", entities)
    response = requests.post(f"{stack.actions_url}/webhook", data=json.dumps(call),
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 401, response.text
    assert ticket_of(stack, conversation)["rating"] is None


def test_action_server_health_stays_open(stack: Stack) -> None:
    response = requests.get(f"{stack.actions_url}/health", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
