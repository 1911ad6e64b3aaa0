"""Reading inbound mails: the customer's words, threading ids, RFC 3834 markers, and bad input that must not
crash (malformed MIME, GBK/GB18030 and unknown charsets, HTML, huge mails, many attachments)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from bot.channels.email_parse import MailLimits, clean_subject, html_to_text, read_mail


def mail(body: str = "我的退款什么时候到账？", subject: str = "退款", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Alice <alice@example.com>")
    message["To"] = "support@frontline.test"
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("Message_ID", "<m1@example.com>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def test_subject_body_and_ids_are_read() -> None:
    read = read_mail(mail(In_Reply_To="<a@x>", References="<r0@x> <a@x>").as_bytes())
    assert (read.sender, read.sender_name, read.message_id) == ("alice@example.com", "Alice", "<m1@example.com>")
    assert read.in_reply_to == ["<a@x>"] and read.references == ["<r0@x>", "<a@x>"]
    assert read.text == "退款\n我的退款什么时候到账？"
    assert read.auto_reason is None and read.problems == []


def test_quoted_history_and_signature_are_cut() -> None:
    body = "Where is my parcel?\n\n-- \nAlice Smith\nACME\n"
    assert read_mail(mail(body).as_bytes()).body == "Where is my parcel?"
    body = "还没收到货\n\n在 2025年12月1日 10:00，support@frontline.test 写道：\n> 您好，已收到\n"
    assert read_mail(mail(body).as_bytes()).body == "还没收到货"
    body = "Thanks\nOn Mon, 1 Dec 2025 at 10:00, Support <support@frontline.test> wrote:\n> earlier\n"
    assert read_mail(mail(body).as_bytes()).body == "Thanks"
    body = "再问一下\n\n发自我的iPhone\n"
    assert read_mail(mail(body).as_bytes()).body == "再问一下"


def test_html_becomes_text_without_scripts_styles_or_quotes() -> None:
    markup = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<p>订单&nbsp;123 没到</p><img src='http://tracker.example/x.png'><blockquote>old mail</blockquote>"
        "<div>谢谢</div></body></html>"
    )
    assert html_to_text(markup) == "订单 123 没到\n谢谢"
    message = EmailMessage()
    message["From"] = "bob@example.com"
    message["Subject"] = "hi"
    message.set_content(markup, subtype="html")
    assert read_mail(message.as_bytes()).body == "订单 123 没到\n谢谢"


@pytest.mark.parametrize("charset", ["gbk", "gb2312", "gb18030"])
def test_chinese_charsets_are_read(charset: str) -> None:
    text = "我的卡丢了，请帮忙冻结"
    raw = (
        "From: c@example.com\r\nSubject: =?{cs}?B?{subj}?=\r\nContent-Type: text/plain; charset={cs}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).format(cs=charset, subj=__import__("base64").b64encode("紧急".encode("gb18030")).decode()).encode() + text.encode("gb18030")
    read = read_mail(raw)
    assert read.subject == "紧急" and read.body == text and read.problems == []


def test_unknown_or_lying_charsets_are_read_with_a_problem_noted() -> None:
    raw = b"From: c@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\n" + "你好".encode("gb18030")
    read = read_mail(raw)
    assert read.body == "你好" and any("unknown charset" in p for p in read.problems)
    raw = b"From: c@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "你好".encode("gb18030")
    read = read_mail(raw)
    assert read.body == "你好" and any("not in its declared charset" in p for p in read.problems)
    raw = b"From: c@example.com\r\nSubject: x\r\nContent-Type: text/plain; charset=ascii\r\n\r\n\xff\xfe\xfa\x80\x81"
    assert read_mail(raw).problems  # undecodable: replaced, noted, never raised


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({"Auto_Submitted": "auto-replied"}, "Auto-Submitted"),
        ({"Precedence": "bulk"}, "Precedence"),
        ({"List_Id": "<news.example.com>"}, "mailing list"),
        ({"From": "noreply@shop.example.com"}, "no-reply"),
        ({"From": "MAILER-DAEMON@mx.example.com"}, "no-reply"),
        ({"X_Autoreply": "yes"}, "auto-reply"),
    ],
)
def test_mails_no_one_may_answer(headers: dict, reason: str) -> None:
    assert reason in (read_mail(mail(**headers).as_bytes()).auto_reason or "")


def test_null_return_path_is_a_bounce_and_auto_submitted_no_is_a_person() -> None:
    assert "bounce" in read_mail(mail().as_bytes(), envelope_sender="").auto_reason
    assert read_mail(mail(Auto_Submitted="no").as_bytes(), envelope_sender="alice@example.com").auto_reason is None


def test_huge_mail_keeps_headers_and_raw_prefix_only() -> None:
    limits = MailLimits(max_mail_bytes=1000, keep_raw_bytes=300)
    read = read_mail(mail("x" * 5000).as_bytes(), limits)
    assert read.sender == "alice@example.com" and read.body == "" and read.subject == "退款"
    assert len(read.raw) == 300 and read.raw_size > 5000 and "not read" in read.problems[0]


def test_attachments_limited_by_count_size_and_type() -> None:
    message = mail("see attached")
    message.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="invoice.pdf")
    message.add_attachment(b"MZ\x90\x00", maintype="application", subtype="x-msdownload", filename="../../evil.exe")
    message.add_attachment(b"x" * 2000, maintype="image", subtype="png", filename="big.png")
    for n in range(3):
        message.add_attachment(b"a,b", maintype="text", subtype="csv", filename=f"f{n}.csv")
    read = read_mail(message.as_bytes(), MailLimits(max_attachments=4, max_attachment_bytes=1000))
    kept = {a.filename: a.refused for a in read.attachments}
    assert kept["invoice.pdf"] is None
    assert "not accepted" in kept[".._.._evil.exe"]
    assert "larger" in kept["big.png"]
    assert kept["f0.csv"] is None and "more than 4" in kept["f1.csv"]
    assert read.body == "see attached"


def test_malformed_mime_is_noted_not_raised() -> None:
    raw = (
        b"From: c@example.com\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary=\"zzz\"\r\n\r\n"
        b"--zzz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@not base64!!\r\n"
    )
    read = read_mail(raw)
    assert read.sender == "c@example.com" and read.problems
    assert read_mail(b"\x00\xff garbage without headers").sender == ""
    assert read_mail(b"").sender == ""


def test_forged_sender_address_is_not_used() -> None:
    read = read_mail(mail(From="evil <a@b@c>, other@x.com").as_bytes())
    assert read.sender == "" and read.auto_reason == "no usable sender address"


def test_ticket_number_in_subject_and_reply_prefixes() -> None:
    read = read_mail(mail(subject="回复：Re: 退款 [T-000123]").as_bytes())
    assert read.ticket_code == "T-000123"
    assert clean_subject(read.subject) == "退款"
