"""`bot.i18n`: picking a text, rounding a wait, the Traditional standard and its settings."""

from __future__ import annotations

import pathlib

import pytest

from bot import i18n
from bot.language import detect
from bot.settings import SettingsError, repo_root


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh", "发票已开出"), ("en", "Invoice issued"), ("zh_hant", "發票已開出"), (None, "发票已开出"), ("fr", "发票已开出")],
)
def test_localise_picks_the_text_and_converts_traditional(language, expected) -> None:
    assert i18n.localise(language, zh="发票已开出", en="Invoice issued") == expected


@pytest.mark.parametrize(("language", "expected"), [("zh", "zh"), ("zh_hant", "zh_hant"), ("en", "en"), (None, "zh"), ("de", "zh")])
def test_known_language(language, expected) -> None:
    assert i18n.known_language(language) == expected


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [(None, 1), (-5, 1), (0, 1), (1, 1), (59, 1), (60, 1), (61, 2), (90, 2), (149, 3), (150, 3), (151, 3), (720, 12)],
)
def test_a_wait_is_rounded_up_to_whole_minutes_at_least_one(seconds, minutes) -> None:
    assert i18n.wait_minutes(seconds) == minutes


@pytest.mark.parametrize(
    ("settings", "standard"),
    [({}, "taiwan"), ({"i18n": None}, "taiwan"), ({"i18n": {}}, "taiwan"), ({"i18n": {"traditional": "taiwan"}}, "taiwan"),
     ({"i18n": {"traditional": "hong_kong"}}, "hong_kong")],
)
def test_the_traditional_standard_setting(settings, standard) -> None:
    assert i18n.traditional_standard(settings) == standard


@pytest.mark.parametrize(
    ("section", "key"),
    [("taiwan", "i18n:"), ({"traditional": "s2twp"}, "i18n.traditional"), ({"traditional": None}, "i18n.traditional"),
     ({"tradtional": "taiwan"}, "i18n.tradtional")],
)
def test_a_wrong_setting_names_its_key(section, key) -> None:
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        i18n.traditional_standard({"i18n": section})


def test_the_shipped_settings_choose_taiwan() -> None:
    assert i18n.traditional_standard() == "taiwan"


@pytest.mark.parametrize(
    ("simplified", "taiwan", "hong_kong"),
    [
        # 发卡 is a hairpin in OpenCC's phrase table; 发卡行 (the issuing bank) comes from bot/i18n_phrases.txt.
        ("信用卡一般 3–7 个工作日（以发卡行入账为准）", "信用卡一般 3–7 個工作日（以發卡行入賬為準）", "信用卡一般 3–7 個工作日（以發卡行入賬為準）"),
        ("收不到短信验证码", "收不到簡訊驗證碼", "收不到短信驗證碼"),
        ("个人信息", "個人資訊", "個人信息"),
        ("请说明原因", "請說明原因", "請説明原因"),
        ("头发", "頭髮", "頭髮"),
    ],
)
def test_both_regional_standards(simplified, taiwan, hong_kong) -> None:
    assert i18n.to_traditional(simplified, "taiwan") == taiwan
    assert i18n.to_traditional(simplified, "hong_kong") == hong_kong


def test_conversion_follows_the_setting(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert i18n.to_traditional("个人信息") == "個人資訊"  # the shipped setting: taiwan
    text = (repo_root() / "settings.yml").read_text(encoding="utf-8")
    assert "  traditional: taiwan\n" in text
    settings = tmp_path / "settings.yml"
    settings.write_text(text.replace("  traditional: taiwan\n", "  traditional: hong_kong\n"), encoding="utf-8")
    monkeypatch.setenv("FRONTLINE_SETTINGS", str(settings))
    assert i18n.to_traditional("个人信息") == "個人信息"
    assert i18n.localise("zh_hant", zh="个人信息", en="personal details") == "個人信息"


def test_an_unknown_standard_is_refused() -> None:
    with pytest.raises(ValueError, match="mainland"):
        i18n.to_traditional("信息", "mainland")


@pytest.mark.parametrize("standard", sorted(i18n.STANDARDS))
def test_each_project_phrase_reads_exactly_as_written_in_both_standards(standard) -> None:
    phrases = i18n.read_phrases()
    assert phrases, "bot/i18n_phrases.txt has no phrases"
    wrong = [
        (zh, hant, i18n.to_traditional(zh, standard))
        for zh, hant in phrases
        if i18n.to_traditional(zh, standard) != hant
    ]
    assert wrong == []


def test_the_phrases_file_is_checked_line_by_line(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("# a comment\n\n发卡行\t發卡行\n", encoding="utf-8")
    assert i18n.read_phrases(good) == [("发卡行", "發卡行")]
    bad = tmp_path / "bad.txt"
    bad.write_text("# a comment\n发卡行 發卡行\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.txt:2:"):
        i18n.read_phrases(bad)


def test_simplified_folding_and_detection_keep_the_plain_standards() -> None:
    # The NLU folds Traditional to Simplified with t2s, whatever the reply standard.
    assert i18n.to_simplified("我的信用卡不見了怎麼辦") == "我的信用卡不见了怎么办"
    assert i18n.to_simplified("頭髮 發票 帳戶 資訊") == "头发 发票 帐户 资讯"
    assert detect("退款多久到帳") == "zh_hant"
    assert detect("退款多久到账") == "zh"
    assert detect("How long does a refund take?") == "en"


@pytest.mark.parametrize("standard", sorted(i18n.STANDARDS))
def test_lone_surrogates_pass_through(standard) -> None:
    # JSON may carry "\ud800"; OpenCC needs UTF-8, which cannot hold it: the rest is still converted.
    assert i18n.to_traditional("发票\ud800发票", standard) == "發票\ud800發票"
    assert i18n.to_simplified("\udfff發票\ud800") == "\udfff发票\ud800"
    assert detect("退款多久到帳\ud800") == "zh_hant"
