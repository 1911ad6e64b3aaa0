"""Every sentence a customer can see that is not a response in `domain.yml`, in one place.

Where a customer's words live:
- `domain.yml`, `responses:`: the answers trainers own (FAQ answers, small talk, scope), one Simplified Chinese
  and one English variation each (`bot/nlg.py` converts to Traditional at send time);
- `data/nlu/faq/<topic>.yml`: each topic's canonical questions (the first Chinese and the first English example,
  offered as buttons when the assistant is unsure) and its short name (`metadata: topic_name:`, used in the
  apology before a handoff);
- `settings.yml`: the emergency contact (`emergency.contact_zh` / `contact_en`) and the agents' canned replies;
- this module: everything the code says (greetings, opening hours, the queue, the survey, channel notices).

Each function takes the customer's language (`zh`, `zh_hant` or `en`; anything else gets Simplified Chinese)
and returns the finished text: written here in Simplified Chinese and English, converted to Traditional by
`bot.i18n.localise` for `zh_hant`. Arguments that go into a sentence (a date, a ticket number) are already
formatted for the language; for `zh_hant` they are formatted as Simplified and converted with the sentence.

Formatting is not here: dates, weekday and month names, time-zone labels and list punctuation are made by
`bot/calendar/messages.py`, which fills the opening-hours sentences below; holiday names are data
(`bot/calendar/holidays.py`).
"""

from __future__ import annotations

import logging
import math
from typing import List, Optional, Sequence, Tuple

from bot.i18n import localise, wait_minutes

logger = logging.getLogger(__name__)


# --- greeting and opening hours (`action_greet`, `action_service_hours`, the WeChat welcome) ---------------------


def greeting(lang: Optional[str], back_from: Optional[str] = None) -> str:
    """The greeting; when the agents are off, `back_from` (a formatted moment) says when they are back.

    "您好！我是智能客服，有什么可以帮您？" (+ "现在人工客服已下班，将于 {back_from} 起回复；常见问题我现在就可以为您解答。")
    """
    zh = "您好！我是智能客服，有什么可以帮您？"
    en = "Hi! I'm the virtual assistant. How can I help you?"
    if back_from:
        zh += f"现在人工客服已下班，将于 {back_from} 起回复；常见问题我现在就可以为您解答。"
        en += f" Our agents are offline now and will be back from {back_from}; I can still answer common questions now."
    return localise(lang, zh=zh, en=en)


def hours_unavailable(lang: Optional[str]) -> str:
    """The answer to "what are your hours" when the business calendar cannot be read."""
    return localise(
        lang,
        zh="抱歉，暂时无法查询服务时间，请稍后再试。",
        en="Sorry, I cannot look up our opening hours right now. Please try again later.",
    )


def hours_always_open(lang: Optional[str]) -> str:
    """The weekly hours of a team that never closes."""
    return localise(lang, zh="人工客服全天24小时服务。", en="Our agents are available 24/7.")


def weekly_hours(
    lang: Optional[str], zone: str, open_parts: Sequence[str], closed_days: str, public_holidays: bool
) -> str:
    """The weekly hours as one sentence.

    "人工客服服务时间（北京时间）：周一至周五 09:00–12:00、13:30–18:00；周六、周日休息；法定节假日休息，调休上班日照常服务。"

    Args:
        lang: the customer's language.
        zone: the time-zone label ("北京时间" / "Beijing time").
        open_parts: one formatted "days hours" part per run of days with the same hours.
        closed_days: the weekly closed days as one formatted list, or "" when none.
        public_holidays: closed on public holidays and open on make-up working days.
    """
    zh = f"人工客服服务时间（{zone}）：{'；'.join(open_parts)}"
    en = f"Our agents are available {'; '.join(open_parts)} ({zone})"
    if closed_days:
        zh += f"；{closed_days}休息"
    if public_holidays:
        zh += "；法定节假日休息，调休上班日照常服务"
    closures = [closed_days] if closed_days else []
    if public_holidays:
        closures.append("on public holidays")
    if closures:
        en += "; closed " + " and ".join(closures)
    if public_holidays:
        en += ", open on official make-up working days"
    return localise(lang, zh=zh + "。", en=en + ".")


def holiday_closed(
    lang: Optional[str], name_zh: str, name_en: str, dates: str, resume: Optional[str] = None
) -> str:
    """A holiday closure, without the final stop: "国庆假期 10月1日–8日休息，10月9日恢复".

    Args:
        lang: the customer's language.
        name_zh: the days off in Chinese ("国庆假期").
        name_en: the holiday in English ("National Day").
        dates: the formatted range of days off.
        resume: the formatted first day back, or None.
    """
    zh = f"{name_zh} {dates}休息"
    en = f"Closed for {name_en} {dates}"
    if resume is not None:
        zh += f"，{resume}恢复"
        en += f", back on {resume}"
    return localise(lang, zh=zh, en=en)


def also_closed(lang: Optional[str], days: str) -> str:
    """Extra closed days (a formatted list) in the next two weeks."""
    return localise(lang, zh=f"另外 {days}休息。", en=f"Also closed on {days}.")


def open_now(lang: Optional[str]) -> str:
    """The agents are in now."""
    return localise(lang, zh="现在是服务时间，人工客服在线。", en="We are open now.")


def closed_now(lang: Optional[str], back_from: str) -> str:
    """The agents are off now; `back_from` is the formatted moment they reply from."""
    return localise(
        lang,
        zh=f"现在人工客服已下班，将于 {back_from} 起回复；常见问题我现在就可以为您解答。",
        en=f"We are closed now; agents will reply from {back_from}. I can still answer common questions now.",
    )


# --- the handoff (`action_handoff`) ------------------------------------------------------------------------------


def _queue_position_zh(position: int, minutes: int) -> str:
    if position <= 1:
        return f"您是下一位，预计等待约 {minutes} 分钟。"
    return f"前面还有 {position - 1} 位，预计等待约 {minutes} 分钟。"


def _queue_position_en(position: int, minutes: int) -> str:
    unit = "minute" if minutes == 1 else "minutes"
    if position <= 1:
        return f"You're next in the queue; expected wait about {minutes} {unit}."
    return f"You're number {position} in the queue; expected wait about {minutes} {unit}."


def queue_position(lang: Optional[str], position: int, wait_seconds: Optional[float]) -> str:
    """The customer's place in the queue and the expected wait (also the desk's update when the queue moves).

    Args:
        lang: the customer's language.
        position: 1-based place in the queue (1: served next).
        wait_seconds: the desk's estimate; announced in whole minutes by `bot.i18n.wait_minutes` (rounded up).

    Returns:
        "前面还有 N 位，预计等待约 M 分钟。" (N = customers ahead) / "You're number N in the queue; expected wait about
        M minutes."; at the head of the queue "您是下一位，…" / "You're next in the queue; …".
    """
    place = max(1, int(position or 1))
    minutes = wait_minutes(wait_seconds)
    return localise(lang, zh=_queue_position_zh(place, minutes), en=_queue_position_en(place, minutes))


def queue_joined(lang: Optional[str], position: int, wait_seconds: Optional[float]) -> str:
    """The handoff's reply in open hours: in the queue, then `queue_position`'s words.

    "您已进入人工客服队列，前面还有 2 位，预计等待约 4 分钟。" / "You're number 3 in the queue; expected wait about 4 minutes."
    """
    place = max(1, int(position or 1))
    minutes = wait_minutes(wait_seconds)
    return localise(
        lang, zh="您已进入人工客服队列，" + _queue_position_zh(place, minutes), en=_queue_position_en(place, minutes)
    )


def nobody_online(lang: Optional[str], ticket_id: str) -> str:
    """Open hours, but no agent who could serve the ticket has the console open: no wait time."""
    return localise(
        lang,
        zh=f"您已进入人工客服队列，工单号 {ticket_id}。客服暂时都不在线，上线后会第一时间回复您，您无需重复描述问题。",
        en=f"You're in the queue for a human agent (ticket {ticket_id}). No agent is online right now; the first one "
        "to come online will reply, and you won't need to repeat yourself.",
    )


def offhours(lang: Optional[str], back_from: str, expected_by: str, ticket_id: Optional[str] = None) -> str:
    """The off-hours reply: the message is kept, when agents reply, and that common questions still work.

    "我们的人工客服已下班。您的留言已记录（工单号 T-000123），人工客服将于 10月9日（周四）09:00 起回复，预计 10:00 前。
    您现在仍可以向我咨询常见问题。"

    Args:
        lang: the customer's language.
        back_from: the formatted moment agents reply from.
        expected_by: the formatted expected reply time.
        ticket_id: the ticket of the left message, when the desk made one.
    """
    saved_zh = f"您的留言已记录（工单号 {ticket_id}）" if ticket_id else "您的留言已记录"
    saved_en = f"Your message is saved (ticket {ticket_id})" if ticket_id else "Your message is saved"
    return localise(
        lang,
        zh=f"我们的人工客服已下班。{saved_zh}，人工客服将于 {back_from} 起回复，预计 {expected_by} 前。"
        "您现在仍可以向我咨询常见问题。",
        en=f"Our agents are offline. {saved_en} and an agent will reply from {back_from}, expected by {expected_by}. "
        "You can still ask me common questions now.",
    )


def reply_window_closes(lang: Optional[str], hours: int, closes_at: str, back_from: str) -> str:
    """Added to the off-hours reply on WeChat when the agents are back only after WeChat's reply window closes.

    "请注意：微信只允许我们在您最后一条消息后的 48 小时内回复您（至 10月2日（周四）20:00），届时人工客服尚未上班。…"

    Args:
        lang: the customer's language.
        hours: the window's length in hours (`settings.yml: reply_window.hours`).
        closes_at: the formatted moment the window closes.
        back_from: the formatted moment agents reply from.
    """
    return localise(
        lang,
        zh=f"请注意：微信只允许我们在您最后一条消息后的 {hours} 小时内回复您（至 {closes_at}），届时人工客服尚未上班。"
        f"请在 {back_from} 后再给我们发一条消息，或现在留下您的手机号或邮箱，我们会打电话或发邮件联系您。",
        en=f"Please note: WeChat lets us reply only within {hours} hours of your last message (until {closes_at}), "
        f"before our agents are back. Please write to us again after {back_from}, or leave your phone number or "
        "e-mail now and we will call or e-mail you.",
    )


def emergency(lang: Optional[str], contact: str) -> str:
    """The reply to an urgent matter (lost card, fraud, account taken over): call the 24/7 line now, never wait.

    Args:
        lang: the customer's language.
        contact: the emergency contact in that language (`settings.yml: emergency.contact_zh` / `contact_en`).
    """
    return localise(
        lang,
        zh=f"您的情况很紧急，请立即拨打{contact}，我们会马上为您处理。",
        en=f"This is urgent: please call {contact} right now and we will help you straight away.",
    )


def emergency_button(lang: Optional[str]) -> str:
    """The title of the greeting's emergency button (the service standard's visible mark); on WeChat it is a
    numbered line ("1. 紧急情况请点击此处", then "请回复数字进行选择。")."""
    return localise(lang, zh="紧急情况请点击此处", en="Emergency? Tap here")


def emergency_keyword_hint(lang: Optional[str]) -> str:
    """The line under WeChat's welcome (a follow, a 微信客服 session) that shows the emergency entry in words."""
    return localise(lang, zh="紧急情况请直接回复“紧急”。", en='In an emergency, just reply "emergency".')


def desk_down(lang: Optional[str], contact_zh: Optional[str] = None, contact_en: Optional[str] = None) -> str:
    """Apology when the desk cannot take the conversation; gives the contact and keeps helping.

    Args:
        lang: the customer's language.
        contact_zh: the contact in Chinese (`emergency.contact_zh`); "客服热线" when not configured.
        contact_en: the contact in English (`emergency.contact_en`); the Chinese one when not configured.
    """
    zh_contact = contact_zh or "客服热线"
    en_contact = contact_en or zh_contact
    return localise(
        lang,
        zh=f"非常抱歉，人工客服系统暂时无法接入。您可以稍后再试，或拨打{zh_contact}联系我们；在此期间我会继续为您解答问题。",
        en=f"I'm sorry, I can't reach our service team right now. Please try again later or contact {en_contact}; "
        "meanwhile I'm happy to keep helping.",
    )


def apology(lang: Optional[str], topic_zh: Optional[str] = None, topic_en: Optional[str] = None) -> str:
    """A short, sincere apology to an angry customer, naming the problem when its topic has names.

    Args:
        lang: the customer's language.
        topic_zh: the topic's short Chinese name ("退款"), from its data file; None for no topic.
        topic_en: the topic's short English name ("your refund").

    Returns:
        "非常抱歉，退款的事给您添了这么多麻烦，我完全理解您的心情。" / "I'm really sorry about the trouble with your
        refund. I understand how frustrating this is."; without names, the same apology without the topic.
    """
    if topic_zh and topic_en:
        return localise(
            lang,
            zh=f"非常抱歉，{topic_zh}的事给您添了这么多麻烦，我完全理解您的心情。",
            en=f"I'm really sorry about the trouble with {topic_en}. I understand how frustrating this is.",
        )
    return localise(
        lang,
        zh="非常抱歉给您添了这么多麻烦，我完全理解您的心情。",
        en="I'm really sorry about the trouble you've had. I understand how frustrating this is.",
    )


def this_problem(lang: Optional[str]) -> str:
    """What a problem is called when its topic has no name ("这个问题" / "this")."""
    return localise(lang, zh="这个问题", en="this")


# --- when the assistant is unsure (`action_clarify`) -------------------------------------------------------------


def clarify_question(lang: Optional[str]) -> str:
    """First miss: the question above the guessed topics."""
    return localise(
        lang,
        zh="抱歉，我不太确定您的意思。您是想问下面的问题吗？",
        en="Sorry, I'm not sure I understood. Did you mean one of these?",
    )


def clarify_other_buttons(lang: Optional[str]) -> List[Tuple[str, str]]:
    """The buttons under the guessed topics: (title, intent) for "none of these" and "talk to an agent"."""
    return [
        (localise(lang, zh="都不是", en="None of these"), "deny"),
        (localise(lang, zh="转人工客服", en="Talk to an agent"), "request_human"),
    ]


def offer_human(lang: Optional[str]) -> str:
    """Second miss in a row: say so plainly and offer a human agent."""
    return localise(
        lang,
        zh="抱歉，我还是没能理解您的问题。需要为您转接人工客服吗？",
        en="Sorry, I still didn't get that. Would you like to talk to one of our agents?",
    )


def offer_human_buttons(lang: Optional[str]) -> List[Tuple[str, str]]:
    """The buttons of `offer_human`: (title, intent) for yes and no."""
    return [
        (localise(lang, zh="好的，转人工", en="Yes, talk to an agent"), "request_human"),
        (localise(lang, zh="不用，我换个说法", en="No, I'll rephrase"), "deny"),
    ]


# --- after the agent (the desk, `action_survey_answer`, `action_survey_comment`) ---------------------------------


def handback(lang: Optional[str]) -> str:
    """The agent gives the conversation back to the assistant without resolving."""
    return localise(
        lang,
        zh="人工客服已结束，智能助手回来为您服务了。还有什么可以帮您？",
        en="The assistant is back. What else can I help you with?",
    )


def survey_prompt(lang: Optional[str]) -> str:
    """The satisfaction survey sent when an agent resolves the ticket."""
    return localise(
        lang,
        zh="请为本次服务打分（1–5）：5 非常满意，1 非常不满意。也欢迎直接留言告诉我们您的建议。",
        en="How did we do? Rate 1–5 (5 = great, 1 = poor). You are welcome to add a comment.",
    )


_SURVEY_TITLES_ZH = {5: "5 ⭐ 非常满意", 4: "4 ⭐ 满意", 3: "3 ⭐ 一般", 2: "2 ⭐ 不满意", 1: "1 ⭐ 非常不满意"}
_SURVEY_TITLES_EN = {5: "5 ⭐ Great", 4: "4 ⭐ Good", 3: "3 ⭐ OK", 2: "2 ⭐ Poor", 1: "1 ⭐ Very poor"}


def survey_buttons(lang: Optional[str]) -> List[Tuple[int, str]]:
    """The survey's buttons, best first: (rating, title)."""
    return [
        (rating, localise(lang, zh=_SURVEY_TITLES_ZH[rating], en=_SURVEY_TITLES_EN[rating])) for rating in (5, 4, 3, 2, 1)
    ]


def survey_thanks(lang: Optional[str], rating: int) -> str:
    """Thanks for a survey answer (1-5); a low one gets an apology too."""
    if rating <= 2:
        return localise(
            lang,
            zh="感谢您的评价，很抱歉这次没能让您满意，我们会认真改进。",
            en="Thank you for your rating. We're sorry we fell short and will work on it.",
        )
    return localise(lang, zh="感谢您的评价！", en="Thank you for your rating!")


def survey_comment_invite(lang: Optional[str]) -> str:
    """After a rating: the comment is optional, and questions are still welcome."""
    return localise(
        lang,
        zh="如果您愿意，可以直接留言告诉我们原因或建议（可选）；也可以继续向我提问。",
        en="If you like, type a comment about the service (optional), or just ask me another question.",
    )


def survey_comment_thanks(lang: Optional[str]) -> str:
    """Thanks for a survey comment."""
    return localise(lang, zh="已收到您的留言，谢谢您帮助我们改进！", en="Thank you, we've passed your comment on to the team.")


def survey_invalid(lang: Optional[str]) -> str:
    """Asked again when a survey answer is not a whole number from 1 to 5."""
    return localise(lang, zh="请选择 1 到 5 分进行评价。", en="Please choose a rating from 1 to 5.")


def nps_prompt(lang: Optional[str]) -> str:
    """The recommendation question (NPS, 0–10) asked after the rating when `survey.nps` is on."""
    return localise(
        lang,
        zh="您有多大可能向朋友或同事推荐我们？请回复 0–10 的数字：10 表示非常愿意，0 表示完全不会。",
        en="How likely are you to recommend us to a friend or colleague? Reply with a number from 0 to 10 "
        "(10 = extremely likely, 0 = not at all likely).",
    )


def nps_buttons(lang: Optional[str]) -> List[Tuple[int, str]]:
    """The recommendation question's buttons, 10 first: (score, title); the title starts with the score, so
    a customer can type it on a channel that shows buttons as lines."""
    ends = {
        10: localise(lang, zh="10 非常愿意", en="10 Extremely likely"),
        0: localise(lang, zh="0 完全不会", en="0 Not at all likely"),
    }
    return [(score, ends.get(score, str(score))) for score in range(10, -1, -1)]


def nps_thanks(lang: Optional[str]) -> str:
    """Thanks for the recommendation answer."""
    return localise(lang, zh="感谢您的反馈！", en="Thank you for your answer!")


def nps_invalid(lang: Optional[str]) -> str:
    """Asked once more when the recommendation answer is not a whole number from 0 to 10."""
    return localise(
        lang, zh="请回复 0 到 10 之间的一个数字（10 表示非常愿意推荐）。", en="Please reply with one number from 0 to 10."
    )


def nps_given_up(lang: Optional[str]) -> str:
    """The survey ends politely after a second answer that is not a number from 0 to 10."""
    return localise(
        lang,
        zh="没关系，感谢您参与评价！如果还有其他问题，随时可以问我。",
        en="No problem, thank you for your feedback! If there's anything else, just ask.",
    )


# --- channels ----------------------------------------------------------------------------------------------------


def too_long(lang: Optional[str], length: int, limit: int) -> str:
    """The widget's reply to a message over `limit` characters (it was not sent to the assistant)."""
    return localise(
        lang,
        zh=f"这条消息太长了（{length:,} 字），没有发送成功。请分几次发送，每次不超过 {limit:,} 字。",
        en=f"That message is too long ({length:,} characters) and was not sent. Please send it in parts of at most "
        f"{limit:,} characters.",
    )


def _retry_in(wait_seconds: float) -> Tuple[str, str]:
    """(Chinese, English) of "in N seconds" (under 2 minutes) or "in N minutes" (rounded up, as queue waits are)."""
    if wait_seconds < 120:
        seconds = max(1, math.ceil(wait_seconds))
        return f"{seconds} 秒", f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = wait_minutes(wait_seconds)
    return f"{minutes} 分钟", f"{minutes} minutes"


def too_many_messages(lang: Optional[str], wait_seconds: float) -> str:
    """The reply to a message over the conversation's limit (`limits.conversation_messages`): it was not received."""
    zh_wait, en_wait = _retry_in(wait_seconds)
    return localise(
        lang,
        zh=f"您发送消息太频繁了，这条消息没有收到。请 {zh_wait}后再发送，谢谢您的耐心。",
        en=f"You're sending messages faster than we can take them, so this one was not received. Please send it "
        f"again in {en_wait}.",
    )


def too_many_chats(lang: Optional[str], wait_seconds: float) -> str:
    """The widget's answer when too many chats were opened from one address (`limits.widget_*_per_address`)."""
    zh_wait, en_wait = _retry_in(wait_seconds)
    return localise(
        lang,
        zh=f"抱歉，您所在的网络刚刚发起了太多对话。请 {zh_wait}后再试。",
        en=f"Sorry, too many chats were started from your network just now. Please try again in {en_wait}.",
    )


def choose_by_number(lang: Optional[str]) -> str:
    """WeChat shows buttons as numbered lines; this line under them says how to choose."""
    return localise(lang, zh="请回复数字进行选择。", en="Reply with a number to choose.")


# WeChat's own notices come before any customer text to detect a language from (a follow event, an image, an
# empty message, an outage): they are in Simplified Chinese, the language of the Official Account.
WECHAT_WELCOME = "您好，欢迎关注！我是智能客服，请直接输入您的问题。"
WECHAT_BUSY = "抱歉，系统暂时繁忙，请稍后再试。"
WECHAT_TEXT_ONLY = "抱歉，我目前只能看懂文字消息。请用文字描述您的问题，我们会尽快为您处理。"
WECHAT_ASK_QUESTION = "请输入您的问题。"



# --- e-mail (`bot/channels/email_turns.py`) -----------------------------------------------------------------------


def email_acknowledgement(lang: Optional[str], ticket_id: Optional[str], expected_by: str) -> str:
    """The acknowledgement of a mail an agent will answer: its ticket number and the expected reply time.

    Args:
        lang: the customer's language.
        ticket_id: the ticket of the mail (None when the desk could not make one).
        expected_by: the formatted expected reply time (from the calendar and the e-mail SLA).
    """
    ticket_zh = f"（工单号 {ticket_id}）" if ticket_id else ""
    ticket_en = f" (ticket {ticket_id})" if ticket_id else ""
    return localise(
        lang,
        zh=f"您好，我们已收到您的邮件{ticket_zh}。客服人员预计在 {expected_by} 前回复您，直接回复此邮件即可补充信息，无需重复发送。",
        en=f"Hello, we have received your e-mail{ticket_en}. An agent is expected to reply by {expected_by}; reply to "
        "this e-mail to add anything, there is no need to write again.",
    )


def email_reach_person(lang: Optional[str]) -> str:
    """The line under an automatic e-mail answer: how to reach a person."""
    return localise(
        lang,
        zh="这是自动回复。如需人工客服，请直接回复此邮件并写明“人工”，我们会转给客服人员处理。",
        en="This is an automatic answer. To reach a person, reply to this e-mail and write \"agent\"; a member of our "
        "team will take it from there.",
    )
