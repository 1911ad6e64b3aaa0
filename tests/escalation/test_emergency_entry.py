"""The emergency entry customers can see (`bot.emergency_entry`): the greeting's button and the WeChat menu keys."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from bot import emergency_entry
from bot.escalation import escalation_settings
from bot.settings import SettingsError, load_settings

SETTINGS: Dict[str, Any] = {
    "emergency": {
        "contact_zh": "24小时紧急热线 400-820-0000",
        "contact_en": "our 24/7 emergency line +86 400-820-0000",
        "intents": ["faq_emergency", "faq_lost_card"],
        "entry_payload": "/faq_emergency",
        "menu_keys": ["EMERGENCY", "sos"],
    }
}


def with_emergency(**changes: Any) -> Dict[str, Any]:
    return {"emergency": {**SETTINGS["emergency"], **changes}}


@pytest.mark.parametrize("key", ["EMERGENCY", "emergency", " Emergency ", "SOS"])
def test_menu_keys_lead_to_the_entry_in_any_case(key: str) -> None:
    assert emergency_entry.menu_payload(key, SETTINGS) == "/faq_emergency"


@pytest.mark.parametrize("key", ["HOURS", "", None, 7, "emergency_line"])
def test_other_menu_keys_lead_nowhere(key: Any) -> None:
    assert emergency_entry.menu_payload(key, SETTINGS) is None


def test_button_in_each_language() -> None:
    assert emergency_entry.button("zh", SETTINGS) == {"title": "紧急情况请点击此处", "payload": "/faq_emergency"}
    assert emergency_entry.button("en", SETTINGS) == {"title": "Emergency? Tap here", "payload": "/faq_emergency"}


@pytest.mark.parametrize("payload", ["/faq_refund_status", "faq_emergency", "", None, 3])
def test_a_payload_outside_the_emergency_lane_is_refused(payload: Any) -> None:
    """A button that would not reach the 24/7 lane is a settings error, named."""
    with pytest.raises(SettingsError, match="emergency.entry_payload"):
        emergency_entry.entry_payload(with_emergency(entry_payload=payload))


def test_start_up_refuses_a_wrong_entry_naming_the_key() -> None:
    """`python -m bot run` checks the entry before starting anything (bot/run.py: check_settings)."""
    emergency_entry.validate(SETTINGS)
    with pytest.raises(SettingsError, match="emergency.entry_payload"):
        emergency_entry.validate(with_emergency(intents="faq_emergency"))
    with pytest.raises(SettingsError, match="emergency.menu_keys"):
        emergency_entry.validate(with_emergency(menu_keys=[""]))


def test_start_up_checks_the_entry(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from bot.run import check_settings
    from bot.settings import settings_path

    shipped = yaml.safe_load(settings_path().read_text(encoding="utf-8"))
    shipped["emergency"]["entry_payload"] = "/faq_refund_status"
    path = tmp_path / "settings.yml"
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("FRONTLINE_SETTINGS", str(path))
    with pytest.raises(SettingsError, match="emergency.entry_payload"):
        check_settings()


def test_broken_menu_keys_are_logged_and_the_click_leads_nowhere(caplog: Any) -> None:
    assert emergency_entry.menu_payload("EMERGENCY", with_emergency(menu_keys="EMERGENCY")) is None
    assert any("emergency.menu_keys" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


def test_shipped_settings_make_the_entry_an_emergency_intent() -> None:
    """The shipped entry reaches the lane: its intent is an emergency intent, routed to the emergency skill."""
    settings = load_settings()
    payload = emergency_entry.entry_payload(settings)
    assert payload == "/faq_emergency"
    assert payload[1:] in escalation_settings(settings)["emergency_intents"]
    assert settings["desk"]["skills"][payload[1:]] == "emergency"
    assert emergency_entry.menu_payload("EMERGENCY", settings) == payload


def test_emergency_answer_names_the_contact_of_the_settings() -> None:
    """The domain answer of the entry names the 24/7 line exactly as `emergency.contact_*` does (one line, two
    homes: this test keeps them equal)."""
    import yaml

    from bot.faq import answer_variations
    from bot.settings import repo_root

    settings = load_settings()["emergency"]
    domain = yaml.safe_load((repo_root() / "domain.yml").read_text(encoding="utf-8"))
    variations = domain["responses"]["utter_faq_emergency"]
    zh_index, en_index = answer_variations(variations)
    assert settings["contact_zh"] in variations[zh_index]["text"]
    assert settings["contact_en"] in variations[en_index]["text"]
