"""Every vector of `vectors/wechat_vectors.json` through `bot.channels.wechat_security`, plus the negatives."""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Dict

import pytest

from bot.channels import wechat_security as sec
from wechat_helpers import load_vectors


def _receive_id(vector: Dict[str, Any]) -> str:
    return vector.get("appid") or vector["receiveid"]


def _ids(vectors: Any) -> Any:
    return [v["id"] for v in vectors]


DECRYPT = load_vectors("decrypt_post")
ENCRYPT = load_vectors("encrypt_deterministic")
URL_SIG = load_vectors("url_signature")
ECHOSTR = load_vectors("verify_url_echostr")


def test_every_vector_kind_is_covered() -> None:
    kinds = {v["kind"] for v in load_vectors()}
    assert kinds == {"decrypt_post", "encrypt_deterministic", "url_signature", "verify_url_echostr"}
    assert len(DECRYPT) + len(ENCRYPT) + len(URL_SIG) + len(ECHOSTR) == len(load_vectors())


@pytest.mark.parametrize("vector", DECRYPT, ids=_ids(DECRYPT))
def test_decrypt_post_vectors(vector: Dict[str, Any]) -> None:
    crypto = sec.MessageCrypto(vector["token"], vector["encoding_aes_key"], _receive_id(vector))
    body = vector.get("post_body") or vector.get("post_body_safe_mode")
    outer = sec.parse_xml(body.replace("{ENCRYPT}", vector["encrypt"]))
    assert outer["Encrypt"] == vector["encrypt"]
    plaintext = crypto.decrypt_message(outer["Encrypt"], vector["msg_signature"], vector["timestamp"], vector["nonce"])
    detail = crypto.decrypt_detailed(vector["encrypt"])
    assert detail.message == plaintext
    assert detail.receive_id == vector["expected_receiveid"]
    assert detail.msg_len == vector["expected_msg_len_bytes"] == len(plaintext.encode("utf-8"))
    assert detail.pad == vector["expected_pad"]
    assert detail.random16.decode("latin-1") == vector["expected_random16"]
    if "expected_plaintext" in vector:
        assert plaintext == vector["expected_plaintext"]
    if "plaintext" in vector:
        assert plaintext == vector["plaintext"]
    # the decrypted message parses as a message for the channel
    message = sec.parse_xml(plaintext)
    assert message["MsgType"] == "text" and message["FromUserName"]
    if "url_signature" in vector:
        sec.check_signature(vector["token"], vector["url_signature"], vector["timestamp"], vector["nonce"])


def test_compat_mode_body_carries_the_same_encrypt() -> None:
    vector = next(v for v in DECRYPT if "post_body_compat_mode" in v)
    outer = sec.parse_xml(vector["post_body_compat_mode"].replace("{ENCRYPT}", vector["encrypt"]))
    crypto = sec.MessageCrypto(vector["token"], vector["encoding_aes_key"], vector["appid"])
    inner = sec.parse_xml(crypto.decrypt_message(outer["Encrypt"], vector["msg_signature"], vector["timestamp"], vector["nonce"]))
    assert inner["Content"] == outer["Content"] == "abcdteT"
    assert inner["MsgId"] == outer["MsgId"]


@pytest.mark.parametrize("vector", ENCRYPT, ids=_ids(ENCRYPT))
def test_encrypt_deterministic_vectors(vector: Dict[str, Any]) -> None:
    crypto = sec.MessageCrypto(vector["token"], vector["encoding_aes_key"], _receive_id(vector))
    random_prefix = vector["random16"].encode("ascii")
    encrypt = crypto.encrypt(vector["plaintext"], random_prefix)
    assert encrypt == vector["encrypt"]
    detail = crypto.decrypt_detailed(encrypt)
    assert detail.message == vector["plaintext"]
    assert detail.pad == vector["expected_pad"]
    assert detail.msg_len == vector["expected_msg_len_bytes"]
    assert detail.random16 == random_prefix
    signature = vector.get("msg_signature") or vector["msg_signature_derived"]
    assert crypto.signature(vector["timestamp"], vector["nonce"], encrypt) == signature
    if "reply_xml" in vector:
        reply = crypto.encrypt_reply(vector["plaintext"], vector["nonce"], vector["timestamp"], random_prefix)
        expected = sec.parse_xml(vector["reply_xml"].replace("{ENCRYPT}", vector["encrypt"]))
        assert sec.parse_xml(reply) == expected


@pytest.mark.parametrize("vector", URL_SIG + [v for v in DECRYPT if "url_signature" in v], ids=lambda v: v["id"])
def test_url_signature_vectors(vector: Dict[str, Any]) -> None:
    assert sec.compute_signature(vector["token"], vector["timestamp"], vector["nonce"]) == vector["url_signature"]
    sec.check_signature(vector["token"], vector["url_signature"], vector["timestamp"], vector["nonce"])
    if "negative_signature" in vector:
        with pytest.raises(sec.InvalidSignature):
            sec.check_signature(vector["token"], vector["negative_signature"], vector["timestamp"], vector["nonce"])


@pytest.mark.parametrize("vector", ECHOSTR, ids=_ids(ECHOSTR))
def test_verify_url_echostr_vectors(vector: Dict[str, Any]) -> None:
    crypto = sec.MessageCrypto(vector["token"], vector["encoding_aes_key"], vector["receiveid"])
    plaintext = crypto.verify_url(vector["msg_signature"], vector["timestamp"], vector["nonce"], vector["echostr"])
    assert plaintext == vector["expected_echostr_plaintext"]
    detail = crypto.decrypt_detailed(vector["echostr"])
    assert (detail.pad, detail.msg_len) == (vector["expected_pad"], vector["expected_msg_len_bytes"])
    if "negative_nonce" in vector:
        with pytest.raises(sec.InvalidSignature):
            crypto.verify_url(vector["msg_signature"], vector["timestamp"], vector["negative_nonce"], vector["echostr"])


# -- negatives -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vector", DECRYPT + ECHOSTR, ids=_ids(DECRYPT + ECHOSTR))
def test_wrong_receive_id_is_rejected(vector: Dict[str, Any]) -> None:
    right = _receive_id(vector)
    payload = vector.get("encrypt") or vector["echostr"]
    for wrong in (right[:-1] + ("x" if right[-1] != "x" else "y"), right + "0", right[:-1], "wx0000000000000000"):
        crypto = sec.MessageCrypto(vector["token"], vector["encoding_aes_key"], wrong)
        with pytest.raises(sec.DecryptionError):
            crypto.decrypt(payload)


@pytest.mark.parametrize("vector", DECRYPT, ids=_ids(DECRYPT))
def test_three_value_signature_is_not_a_msg_signature(vector: Dict[str, Any]) -> None:
    crypto = sec.MessageCrypto(vector["token"], vector["encoding_aes_key"], _receive_id(vector))
    three = sec.compute_signature(vector["token"], vector["timestamp"], vector["nonce"])
    with pytest.raises(sec.InvalidSignature):
        crypto.decrypt_message(vector["encrypt"], three, vector["timestamp"], vector["nonce"])
    with pytest.raises(sec.InvalidSignature):
        crypto.decrypt_message(vector["encrypt"], None, vector["timestamp"], vector["nonce"])
    with pytest.raises(sec.InvalidSignature):
        crypto.decrypt_message(vector["encrypt"], vector["msg_signature"], vector["timestamp"], vector["nonce"] + "1")
    # a signature in upper case still matches (hex is case-insensitive), a truncated one does not
    crypto.verify_msg_signature(vector["msg_signature"].upper(), vector["timestamp"], vector["nonce"], vector["encrypt"])
    with pytest.raises(sec.InvalidSignature):
        crypto.verify_msg_signature(vector["msg_signature"][:-1], vector["timestamp"], vector["nonce"], vector["encrypt"])


@pytest.mark.parametrize("key", ["abcde", "", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", "abcdefghijklmnopqrstuvwxyz0123456789ABCDE+/"])
def test_malformed_aes_keys_are_refused(key: str) -> None:
    with pytest.raises(sec.InvalidAesKey):
        sec.MessageCrypto("token", key, "wx1")


def test_unconfigured_token_never_verifies() -> None:
    vector = URL_SIG[0]
    with pytest.raises(sec.InvalidSignature):
        sec.check_signature("", vector["url_signature"], vector["timestamp"], vector["nonce"])
    with pytest.raises(sec.InvalidSignature):
        sec.check_signature(vector["token"], "", vector["timestamp"], vector["nonce"])
    with pytest.raises(sec.InvalidSignature):
        sec.check_signature(vector["token"], "ü" * 40, vector["timestamp"], vector["nonce"])


def _forge(crypto: sec.MessageCrypto, plain: bytes) -> str:
    """Encrypt arbitrary bytes (no padding added) with the crypto's key: for malformed-plaintext tests."""
    from wechatpy.crypto.base import WeChatCipher

    return base64.b64encode(WeChatCipher(crypto.key).encrypt(plain)).decode("ascii")


@pytest.fixture
def crypto() -> sec.MessageCrypto:
    vector = ENCRYPT[0]
    return sec.MessageCrypto(vector["token"], vector["encoding_aes_key"], vector["appid"])


def test_pad_value_outside_1_to_32_is_rejected(crypto: sec.MessageCrypto) -> None:
    good = b"r" * 16 + (3).to_bytes(4, "big") + b"abc" + crypto.receive_id.encode()
    for pad in (0, 33, 48, 255):
        body = good + b"\x00" * ((-len(good) - 1) % 16) + bytes([pad])
        with pytest.raises(sec.DecryptionError, match="padding"):
            crypto.decrypt(_forge(crypto, body))


def test_non_uniform_padding_is_rejected(crypto: sec.MessageCrypto) -> None:
    good = b"r" * 16 + (3).to_bytes(4, "big") + b"abc" + crypto.receive_id.encode()
    pad = 32 - len(good) % 32
    body = good + b"\x01" * (pad - 1) + bytes([pad])
    with pytest.raises(sec.DecryptionError, match="padding"):
        crypto.decrypt(_forge(crypto, body))


def test_msg_len_that_does_not_fit_is_rejected(crypto: sec.MessageCrypto) -> None:
    for claimed in (10_000, 2**32 - 1, 3 + len(crypto.receive_id) + 1):
        body = b"r" * 16 + claimed.to_bytes(4, "big") + b"abc" + crypto.receive_id.encode()
        pad = 32 - len(body) % 32
        with pytest.raises(sec.DecryptionError, match="msg_len"):
            crypto.decrypt(_forge(crypto, body + bytes([pad]) * pad))


def test_well_formed_forged_plaintext_decrypts(crypto: sec.MessageCrypto) -> None:
    body = b"r" * 16 + (3).to_bytes(4, "big") + b"abc" + crypto.receive_id.encode()
    pad = 32 - len(body) % 32
    assert crypto.decrypt(_forge(crypto, body + bytes([pad]) * pad)) == "abc"


@pytest.mark.parametrize("payload", ["", "not base64!!", "QUJD", base64.b64encode(b"x" * 17).decode(), "QUJDRA==\n"])
def test_bad_ciphertext_is_rejected(crypto: sec.MessageCrypto, payload: str) -> None:
    with pytest.raises(sec.DecryptionError):
        crypto.decrypt(payload)


def test_invalid_utf8_message_is_rejected(crypto: sec.MessageCrypto) -> None:
    body = b"r" * 16 + (2).to_bytes(4, "big") + b"\xff\xfe" + crypto.receive_id.encode()
    pad = 32 - len(body) % 32
    with pytest.raises(sec.DecryptionError, match="UTF-8"):
        crypto.decrypt(_forge(crypto, body + bytes([pad]) * pad))


def test_full_block_of_padding_when_aligned(crypto: sec.MessageCrypto) -> None:
    # 16 + 4 + len(msg) + 18 (appid) == 64 -> a whole extra block of 32 x 0x20
    msg = "x" * (64 - 16 - 4 - len(crypto.receive_id))
    detail = crypto.decrypt_detailed(crypto.encrypt(msg))
    assert detail.pad == 32 and detail.message == msg


def test_random_prefix_is_fresh_and_16_bytes(crypto: sec.MessageCrypto) -> None:
    a, b = crypto.decrypt_detailed(crypto.encrypt("hi")), crypto.decrypt_detailed(crypto.encrypt("hi"))
    assert len(a.random16) == 16 and a.random16 != b.random16
    with pytest.raises(ValueError):
        crypto.encrypt("hi", b"short")


# -- timestamps, sizes, XML ----------------------------------------------------------------------------------
def test_timestamp_window() -> None:
    now = 1_700_000_000.0
    assert sec.check_timestamp("1700000000", 300, now) == 1_700_000_000
    assert sec.check_timestamp("1699999700", 300, now) == 1_699_999_700
    assert sec.check_timestamp("1700000300", 300, now) == 1_700_000_300
    for bad in ("1699999699", "1700000301", "", None, "abc", "-5", "1.5", "1" * 13):
        with pytest.raises(sec.ReplayedRequest):
            sec.check_timestamp(bad, 300, now)


def test_body_size() -> None:
    sec.check_body_size(65536, 65536)
    sec.check_body_size(None, 10)
    with pytest.raises(sec.BodyTooLarge) as info:
        sec.check_body_size(65537, 65536)
    assert info.value.status == 413


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<xml><Content>unclosed</xml>",
        b"not xml at all",
        b"<other><a>1</a></other>",
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">]><xml><Content>&a;</Content></xml>',
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>',
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/evil.dtd"><xml><Content>a</Content></xml>',
        b"<xml><Content>\xff\xfe</Content></xml>",
    ],
)
def test_unsafe_or_malformed_xml_is_refused(body: bytes) -> None:
    with pytest.raises(sec.MalformedXml) as info:
        sec.parse_xml(body)
    assert info.value.status == 400


def test_billion_laughs_is_refused_quickly() -> None:
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
        + b"]><xml><Content>&lol9;</Content></xml>"
    )
    with pytest.raises(sec.MalformedXml):
        sec.parse_xml(lol)


def test_parse_xml_values() -> None:
    message = sec.parse_xml(
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Content><![CDATA[ 你好 <b>]]]]><![CDATA[> ]]></Content>"
        "<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType></ScanCodeInfo><MsgId>1</MsgId><MsgId>2</MsgId></xml>"
    )
    assert message == {"ToUserName": "gh_1", "Content": "你好 <b>]]>", "ScanCodeInfo": {"ScanType": "qrcode"}, "MsgId": "1"}


def test_cdata_escapes_its_terminator() -> None:
    text = "a]]>b<![CDATA[c"
    assert sec.parse_xml(f"<xml><Content>{sec.cdata(text)}</Content></xml>")["Content"] == text


def test_deeply_nested_xml_is_malformed_not_a_recursion_error() -> None:
    """5,000 levels (35 KB, under the body limit) used to raise RecursionError; now a MalformedXml with a reason."""
    deep = "<xml>" + "<a>" * 5000 + "x" + "</a>" * 5000 + "<FromUserName>o</FromUserName><MsgType>text</MsgType></xml>"
    with pytest.raises(sec.MalformedXml, match="nested deeper than 16 levels") as info:
        sec.parse_xml(deep.encode())
    assert info.value.status == 400

    def nested(levels: int) -> str:
        return "<xml>" + "<a>" * levels + "x" + "</a>" * levels + "</xml>"

    # the limit: `<xml>` and 15 levels below it parse; one more does not
    value: Any = sec.parse_xml(nested(15))
    for _ in range(15):
        value = value["a"]
    assert value == "x"
    with pytest.raises(sec.MalformedXml, match="deeper than 16"):
        sec.parse_xml(nested(16))
    with pytest.raises(sec.MalformedXml, match="deeper than 4"):
        sec.parse_xml(nested(4), max_depth=4)


@pytest.mark.parametrize(
    "text, clean",
    [
        ("退款说明：\x0b请在订单页\x08申请。", "退款说明：请在订单页申请。"),
        ("a\x00b\x1fc\x7fd", "abc\x7fd"),  # U+007F is allowed by XML 1.0
        ("tab\tline\ncr\r", "tab\tline\ncr\r"),
        ("\ufffe\uffff\ud800x", "x"),
        ("中文 emoji 😀 ]]> end", "中文 emoji 😀 ]]> end"),
    ],
    ids=["vertical_tab_backspace", "c0_controls", "whitespace_kept", "non_characters_and_surrogate", "unchanged"],
)
def test_cdata_drops_characters_xml_forbids(text: str, clean: str) -> None:
    """Text pasted from Word (\\x0b, \\x08) made the passive reply invalid XML: WeChat showed an error."""
    assert sec.xml_text(text) == clean
    xml = f"<xml><Content>{sec.cdata(text)}</Content></xml>"
    assert sec.parse_xml(xml.encode("utf-8", "surrogatepass"))["Content"] == clean.strip()


def test_signature_is_sha1_of_sorted_values() -> None:
    values = ["token", "1409304348", "xxxxxx", "payload"]
    assert sec.compute_signature(*values) == hashlib.sha1("".join(sorted(values)).encode()).hexdigest()
