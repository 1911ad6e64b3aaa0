"""Fixtures for the trainer tools: a small, clean project in tmp_path, and a copy of the real project data."""

from __future__ import annotations

import pathlib
import shutil
import textwrap
from typing import Callable, Dict, List, Tuple

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

EXAMPLES: Dict[str, Tuple[List[str], List[str]]] = {
    "faq_refund_status": (
        ["我的退款到哪了", "退款多久到账", "退款什么时候到", "钱什么时候退回来", "退款进度怎么查", "退款还没收到",
         "退的钱去哪了", "查一下退款状态", "退款一直没到账", "申请退款后多久到", "退款到账时间", "退款处理中是什么意思"],
        ["where is my refund", "how long does a refund take", "refund status", "when will i get my money back",
         "i have not received my refund", "check my refund", "refund still pending", "how do i track my refund",
         "money back timeline", "refund not arrived yet", "when is the refund credited", "what does refund processing mean"],
    ),
    "faq_delivery_time": (
        ["多久能发货", "几天能送到", "快递要几天", "什么时候送达", "配送需要多长时间", "下单后多久到",
         "包裹几天到", "能不能明天送到", "偏远地区几天到", "发货时间是多久", "物流一般几天", "周末配送吗"],
        ["how long is delivery", "when will my parcel arrive", "delivery time", "how many days to ship",
         "can it arrive tomorrow", "shipping takes how long", "do you deliver on weekends", "delivery to remote areas",
         "when do you dispatch orders", "estimated arrival", "how fast is shipping", "next day delivery"],
    ),
    "faq_service_hours": (
        ["客服几点上班", "客服工作时间", "周末有客服吗", "节假日客服上班吗", "晚上有人吗", "营业时间",
         "几点下班", "现在有人工吗", "客服是24小时吗", "春节上班吗", "早上几点开始服务", "中午有客服吗"],
        ["service hours", "opening hours", "are you open on weekends", "when do you close", "is support available 24/7",
         "business hours", "what time do you open", "holiday opening times", "are agents available at night",
         "lunch time service", "when can I reach an agent", "are you open now"],
    ),
}

GREET = (["你好", "您好", "在吗", "哈喽"], ["hello", "hi", "good morning", "hey there"])

DOMAIN = """\
version: "3.1"

session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true

intents:
  # --- core conversation
  - greet
  # --- FAQ topics (begin)
  - faq_refund_status
  - faq_delivery_time
  - faq_service_hours
  # --- FAQ topics (end)

slots:
  language:
    type: categorical
    values: [zh, zh_hant, en]
    influence_conversation: false
    mappings:
      - type: custom
  ticket_id:
    type: text
    influence_conversation: false
    mappings:
      - type: custom

responses:
  # --- core conversation (begin)
  utter_greet:
    - condition:
        - type: slot
          name: language
          value: en
      text: "Hello! How can I help?"
    - text: "您好！请问有什么可以帮您？"
  utter_ticket:
    - text: "工单 {ticket_id} 已创建。"
  # --- core conversation (end)
  # --- FAQ answers (begin)
  utter_faq_refund_status:
    - condition:
        - type: slot
          name: language
          value: en
      text: "Refunds reach your original payment account within 3–5 working days."
    - text: "退款会在 3–5 个工作日内退回原支付账户。"
  utter_faq_delivery_time:
    - condition:
        - type: slot
          name: language
          value: en
      text: |-
        Orders ship within 24 hours.
        Delivery takes 2–4 days.
    - text: |-
        订单 24 小时内发货。
        一般 2–4 天送达。
  # --- FAQ answers (end)

actions:
  - action_service_hours
"""

SETTINGS = """\
version: 1

calendar:
  timezone: Asia/Shanghai

emergency:
  contact_zh: "24小时紧急热线 400-820-0000"

desk:
  canned:
    greeting:
      zh: "您好，我是客服小李，很高兴为您服务。"
      en: "Hello, this is Li from customer service."
    closing: "感谢您的耐心等待。"

compliance:
  banned_phrases:
    - 绝对保证
    - 永久有效
    - 100%保证
    - guaranteed returns
    - never fails
  min_examples_per_language: 12
  wechat_max_reply_bytes: 2048
  lint_extra_placeholders: []
"""

SURVEY_MODULE = '''\
"""Survey texts sent after a ticket is resolved (a copy of a Python-held reply module)."""

from __future__ import annotations

SURVEY_ZH = "请为本次服务打分：1 很差，5 很好。"
SURVEY_EN = "Please rate this conversation from 1 (poor) to 5 (great)."


def off_hours(opening: str) -> str:
    """Never fails to build the text (this docstring mentions a banned phrase and must be ignored)."""
    return f"现在是非工作时间，我们将在 {opening} 回复您。"
'''


def nlu_file(intent: str, chinese: List[str], english: List[str]) -> str:
    """An NLU file in the project's layout (block at column 0, examples at 4)."""
    lines = ['version: "3.1"', "nlu:", f"- intent: {intent}", "  examples: |"]
    lines += [f"    - {example}" for example in [*chinese, *english]]
    return "\n".join(lines) + "\n"


def rules_file(intents: List[str]) -> str:
    """A rules file answering each FAQ intent."""
    parts = ['version: "3.1"\n\nrules:\n']
    for index, intent in enumerate(intents):
        action = "action_service_hours" if intent == "faq_service_hours" else f"utter_{intent}"
        separator = "\n" if index else ""
        parts.append(
            f"{separator}  - rule: Answer {intent}\n    steps:\n      - intent: {intent}\n      - action: {action}\n"
        )
    return "".join(parts)


def make_project(root: pathlib.Path) -> pathlib.Path:
    """Write a small clean project (3 FAQ topics, one answered by code) under `root`."""
    (root / "data" / "nlu" / "faq").mkdir(parents=True)
    (root / "data" / "rules").mkdir(parents=True)
    (root / "bot" / "desk").mkdir(parents=True)
    (root / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    (root / "settings.yml").write_text(SETTINGS, encoding="utf-8")
    for intent, (chinese, english) in EXAMPLES.items():
        topic = intent[len("faq_") :]
        (root / "data" / "nlu" / "faq" / f"{topic}.yml").write_text(nlu_file(intent, chinese, english), encoding="utf-8")
    (root / "data" / "nlu" / "core.yml").write_text(nlu_file("greet", *GREET), encoding="utf-8")
    (root / "data" / "rules" / "faq.yml").write_text(rules_file(list(EXAMPLES)), encoding="utf-8")
    (root / "data" / "rules" / "core.yml").write_text(
        textwrap.dedent(
            """\
            version: "3.1"

            rules:
              - rule: Greet
                steps:
                  - intent: greet
                  - action: utter_greet
            """
        ),
        encoding="utf-8",
    )
    (root / "bot" / "desk" / "survey.py").write_text(SURVEY_MODULE, encoding="utf-8")
    return root


@pytest.fixture
def project_root(tmp_path: pathlib.Path) -> pathlib.Path:
    """A small clean project in tmp_path."""
    return make_project(tmp_path / "project")


@pytest.fixture
def real_copy(tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of the repository's domain.yml, data/ and settings.yml."""
    root = tmp_path / "real"
    root.mkdir()
    for name in ("domain.yml", "settings.yml"):
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(REPO / "data", root / "data")
    return root


def take_snapshot(root: pathlib.Path) -> Dict[str, bytes]:
    """Every file under root, as bytes, keyed by relative path."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture
def snapshot() -> Callable[[pathlib.Path], Dict[str, bytes]]:
    """A function returning every file under a folder, as bytes, keyed by relative path."""
    return take_snapshot
