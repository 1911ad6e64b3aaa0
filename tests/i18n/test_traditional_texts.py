"""Every Chinese text a customer can see, converted to Traditional in both regional standards, has none of the
known-bad results.

The texts: the responses of `domain.yml` (texts and button titles), each FAQ topic's canonical Chinese question
(a button when the assistant is unsure) and short name (in the apology), the sentences of `bot/texts.py`, the
holiday names and the emergency contact of `settings.yml`. The bad results were found by reading the conversions
of all of them; each is fixed by a phrase in `bot/i18n_phrases.txt`. A new text that converts badly fails here:
add its phrase to that file.
"""

from __future__ import annotations

import ast
import re
from typing import Iterator, List, Tuple

import pytest
import yaml

from bot import i18n
from bot.calendar.holidays import HOLIDAY_NAMES
from bot.faq import load_catalog
from bot.settings import load_settings, repo_root

HAN = re.compile(r"[\u4e00-\u9fff]")

# (pattern, what went wrong). Each was a real conversion of a shipped text before its phrase was added.
KNOWN_BAD: List[Tuple[str, str]] = [
    (r"(?<![頭理])髮", "发 (issue, send) taken as 髮 'hair' (以髮卡行入賬, 換髮)"),
    (r"[麵麪](?![條包粉食])", "面 (face, side) taken as 麵 'noodles' (麵單)"),
    (r"天后", "后 'after' taken as 天后 'the goddess' (7 天后到賬)"),
    (r"(?<![合吞兼一歸])併", "并 'and' taken as 併 'merge' (併為您補發)"),
    (r"核心實", "内核 'kernel' cut out of 内核实 'verify within' (TW: 工作日核心實)"),
    (r"回複|複數", "复数 'plural' cut out of 回复数字 'reply a number' (請回複數字)"),
    (r"隻[能有要是需]", "只 'only' taken as 隻, the measure word"),
    (r"係統", "系 of 系统 taken as 係"),
    (r"登出", "TW: 注销 'close (an account)' taken as 登出 'log out'"),
    (r"稽核", "TW: 审核 'review' taken as 稽核 'audit'"),
    (r"型別", "TW: 类型 'kind' taken as 型別 'data type'"),
    (r"專案", "TW: 项目 'item' taken as 專案 'project'"),
    (r"許可權", "TW: 权限 'permissions' taken as 許可權"),
    (r"繫結", "TW: 绑定 'link (a card)' taken as 繫結 'bind (in code)'"),
    (r"佇列", "TW: 队列 of people taken as 佇列, the data structure"),
    (r"不線上|客服線上", "TW: 在线 'online (present)' taken as 線上 'online (on the web)'"),
]


def _f_string(node: ast.JoinedStr) -> str:
    """An f-string with each placeholder as "1", so the sentence converts in one piece."""
    return "".join(part.value if isinstance(part, ast.Constant) else "1" for part in node.values)


def texts_module_strings() -> Iterator[str]:
    """Every Chinese string literal and f-string of bot/texts.py (docstrings included: they quote sentences)."""
    tree = ast.parse((repo_root() / "bot" / "texts.py").read_text(encoding="utf-8"))
    inside_f_strings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield _f_string(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_f_strings:
            yield node.value


def customer_texts() -> List[Tuple[str, str]]:
    """(where, Simplified text) for every Chinese text a customer can see."""
    found: List[Tuple[str, str]] = []
    domain = yaml.safe_load((repo_root() / "domain.yml").read_text(encoding="utf-8"))
    for name, variations in (domain.get("responses") or {}).items():
        for variation in variations:
            if variation.get("condition"):
                continue
            found.append((f"domain.yml {name}", variation.get("text") or ""))
            found.extend((f"domain.yml {name} button", b.get("title") or "") for b in variation.get("buttons") or [])
    for intent, topic in load_catalog().items():
        found.append((f"{intent} canonical question", topic.canonical_zh or ""))
        found.append((f"{intent} topic name", topic.name_zh or ""))
    found.extend(("bot/texts.py", text) for text in texts_module_strings())
    for holiday in HOLIDAY_NAMES.values():
        found.extend((f"holiday {holiday.key}", name) for name in (holiday.zh, holiday.zh_break))
    found.append(("settings.yml emergency.contact_zh", load_settings()["emergency"]["contact_zh"]))
    return [(where, text) for where, text in found if HAN.search(text)]


def test_the_texts_are_found() -> None:
    places = {where.split()[0] for where, _ in customer_texts()}
    assert {"domain.yml", "bot/texts.py", "faq_refund_status", "holiday", "settings.yml"} <= places
    assert any("以发卡行入账为准" in text for _, text in customer_texts())


@pytest.mark.parametrize("standard", sorted(i18n.STANDARDS))
def test_no_known_bad_traditional(standard: str) -> None:
    bad = []
    for where, text in customer_texts():
        converted = i18n.to_traditional(text, standard)
        for pattern, why in KNOWN_BAD:
            match = re.search(pattern, converted)
            if match:
                bad.append(f"{where}: {match.group()!r} ({why}) in {converted[max(0, match.start() - 12):match.end() + 12]!r}")
    assert bad == []


@pytest.mark.parametrize(("pattern", "example"), [
    (r"(?<![頭理])髮", "以髮卡行入賬為準"), (r"[麵麪](?![條包粉食])", "麪單照片"), (r"(?<![合吞兼一歸])併", "併為您補發"),
])
def test_the_patterns_catch_what_they_describe(pattern: str, example: str) -> None:
    assert re.search(pattern, example)
    assert not re.search(pattern, "頭髮 合併 一併 麵包")
