"""The desk's texts a customer sees: the survey, the hand-back line, queue-position updates.

Kept together in this one module so they have one home; `bot.desk.delivery` sends them.
"""

from __future__ import annotations

import logging
from typing import Dict, Optional

logger = logging.getLogger(__name__)

SURVEY_TEXT = {
    "zh": "请为本次服务打分（1–5）：5 非常满意，1 非常不满意。也欢迎直接留言告诉我们您的建议。",
    "en": "How did we do? Rate 1–5 (5 = great, 1 = poor). You are welcome to add a comment.",
}
SURVEY_TITLES = {
    "zh": {5: "5 ⭐ 非常满意", 4: "4 ⭐ 满意", 3: "3 ⭐ 一般", 2: "2 ⭐ 不满意", 1: "1 ⭐ 非常不满意"},
    "en": {5: "5 ⭐ Great", 4: "4 ⭐ Good", 3: "3 ⭐ OK", 2: "2 ⭐ Poor", 1: "1 ⭐ Very poor"},
}
HANDBACK_TEXT = {
    "zh": "人工客服已结束，智能助手回来为您服务了。还有什么可以帮您？",
    "en": "The assistant is back. What else can I help you with?",
}
POSITION_TEXT = {
    "zh": "您目前排在第 {position} 位，预计等待约 {minutes} 分钟。",
    "en": "You are now number {position} in the queue; the expected wait is about {minutes} min.",
}


def in_language(texts: Dict[str, str], language: Optional[str]) -> str:
    """Pick `texts[lang]` for zh / zh_hant / en (Traditional converted from Simplified)."""
    if language == "en":
        return texts["en"]
    if language == "zh_hant":
        from bot.language import to_traditional

        return to_traditional(texts["zh"])
    return texts["zh"]
