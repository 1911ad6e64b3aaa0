"""The customer's languages, the one rule for picking a text, the one rounding of a wait, and Chinese conversion.

Every text a customer sees is written twice, in Simplified Chinese and in English (`bot/texts.py`, or a response
in `domain.yml`); `localise(language, zh=…, en=…)` picks one. A customer who writes Traditional Chinese gets the
Simplified text converted at the moment it is shown, by OpenCC's phrase-aware regional standard chosen in
`settings.yml`:

    i18n:
      traditional: taiwan      # OpenCC s2twp (Taiwan characters and vocabulary: 信息 -> 資訊); or hong_kong (s2hk)

OpenCC's own phrase tables are preceded by the project's phrases, `bot/i18n_phrases.txt` (`简体<TAB>繁體` per
line), for the phrases OpenCC gets wrong in this domain: its table reads 发卡 as "hairpin" (髮卡), but in
"以发卡行入账为准" it is the card-issuing bank (發卡行). Language detection and the NLU fold Traditional to Simplified
with the plain `t2s` standard (`to_simplified`), which no setting changes.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import pathlib
import re
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Tuple

from bot.settings import SettingsError

logger = logging.getLogger(__name__)

ZH = "zh"
ZH_HANT = "zh_hant"
EN = "en"
LANGUAGES = (ZH, ZH_HANT, EN)

TAIWAN = "taiwan"
HONG_KONG = "hong_kong"
# The `i18n.traditional` setting -> the OpenCC standard its conversion chains the project's phrases onto.
STANDARDS = {TAIWAN: "s2twp", HONG_KONG: "s2hk"}
DEFAULT_STANDARD = TAIWAN
SETTINGS_KEYS = ("traditional",)
PHRASES_FILE = pathlib.Path(__file__).with_name("i18n_phrases.txt")
# Lone surrogates (JSON can carry "\ud800") cannot be encoded as UTF-8, which OpenCC needs: they pass through as is.
_SURROGATES = re.compile("([\ud800-\udfff]+)")


def known_language(language: Optional[str]) -> str:
    """The language code itself when it is one of `LANGUAGES`, else Simplified Chinese (`ZH`)."""
    return language if language in LANGUAGES else ZH


def localise(language: Optional[str], *, zh: str, en: str) -> str:
    """Pick the text for the customer's language.

    Args:
        language: "zh", "zh_hant" or "en"; anything else (None, unknown) gets Simplified Chinese.
        zh: the text in Simplified Chinese.
        en: the text in English.

    Returns:
        `en` for English, `zh` converted to Traditional (the configured standard) for "zh_hant", `zh` otherwise.
    """
    if language == EN:
        return en
    if language == ZH_HANT:
        return to_traditional(zh)
    return zh


def wait_minutes(seconds: Optional[float]) -> int:
    """Whole minutes to announce for an expected wait: rounded up, at least 1 (no estimate counts as 1).

    Args:
        seconds: the expected wait in seconds, or None when there is no estimate.

    Returns:
        The minutes to tell the customer; 150 s is 3 minutes, never "about 2".
    """
    if seconds is None or seconds <= 0:
        return 1
    return max(1, math.ceil(seconds / 60))


# --- settings ------------------------------------------------------------------------------------------------


def traditional_standard(settings: Optional[Mapping[str, Any]] = None) -> str:
    """The validated `i18n.traditional` setting: "taiwan" (the default) or "hong_kong".

    Args:
        settings: the whole settings mapping; `settings.yml` (`bot.settings.load_settings()`) when None.

    Returns:
        A key of `STANDARDS`.

    Raises:
        SettingsError: the section is not a mapping, has an unknown key, or names another standard; the message
            names the key.
    """
    if settings is None:
        from bot.settings import load_settings

        settings = load_settings()
    section = settings.get("i18n") if isinstance(settings, Mapping) else None
    if section is None:
        return DEFAULT_STANDARD
    if not isinstance(section, Mapping):
        raise SettingsError("i18n: must be a mapping (traditional: taiwan or hong_kong)")
    for key in section:
        if key not in SETTINGS_KEYS:
            raise SettingsError(f"i18n.{key}: unknown key; the section takes {', '.join(SETTINGS_KEYS)}")
    value = section.get("traditional", DEFAULT_STANDARD)
    if value not in STANDARDS:
        raise SettingsError(f"i18n.traditional: must be one of {', '.join(STANDARDS)}, not {value!r}")
    return str(value)


# --- conversion ----------------------------------------------------------------------------------------------


@functools.cache
def _converter(config: str) -> Any:
    from opencc import OpenCC

    return OpenCC(config)


def _convert(converter: Any, text: str) -> str:
    """`converter.convert(text)`, leaving lone surrogates (which OpenCC cannot take) where they are."""
    if not _SURROGATES.search(text):
        return converter.convert(text)
    parts = _SURROGATES.split(text)
    return "".join(part if index % 2 or not part else converter.convert(part) for index, part in enumerate(parts))


def convert(config: str, text: str) -> str:
    """Convert `text` with one of the opencc package's own standards, unchanged by any setting.

    Args:
        config: a standard shipped with the opencc package: "t2s", "s2t", "s2twp", ….
        text: any text; characters the standard does not know pass through.
    """
    return _convert(_converter(config), text)


def read_phrases(path: pathlib.Path = PHRASES_FILE) -> List[Tuple[str, str]]:
    """The project's phrases: (Simplified, Traditional) pairs, in file order.

    The file has one `简体<TAB>繁體` pair a line; blank lines and lines starting with `#` are skipped.

    Raises:
        ValueError: a line is not two non-empty fields separated by one tab; the message names the line.
    """
    pairs: List[Tuple[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not all(field.strip() == field and field for field in fields):
            raise ValueError(f"{path}:{number}: expected 'simplified<TAB>traditional', got {line!r}")
        pairs.append((fields[0], fields[1]))
    return pairs


def _share_dir() -> pathlib.Path:
    """The folder of the configs and dictionaries the opencc package ships (opencc 1.4.2: `clib/share/opencc`)."""
    import opencc

    share = pathlib.Path(opencc.__file__).resolve().parent / "clib" / "share" / "opencc"
    if not (share / "s2twp.json").is_file():
        raise RuntimeError(f"{share}: no OpenCC configs here; install the pinned opencc (requirements.lock)")
    return share


def _absolute_dictionaries(node: Any, share: pathlib.Path) -> Any:
    """The config node with every dictionary file of the package made an absolute path."""
    if isinstance(node, dict):
        node = {key: _absolute_dictionaries(value, share) for key, value in node.items()}
        if node.get("type") in ("ocd2", "text") and isinstance(node.get("file"), str):
            node["file"] = str(share / node["file"])
        return node
    if isinstance(node, list):
        return [_absolute_dictionaries(item, share) for item in node]
    return node


def regional_config(standard: str, phrases_file: str, kept_file: str) -> Dict[str, Any]:
    """The OpenCC config of a regional standard with the project's phrases placed first.

    The phrases join the segmentation (so 内核实 is cut as one word, not as 内核 "kernel" + 实) and come first in
    every conversion step, whose policy is short-circuit: where they match, they win over OpenCC's own tables.
    In the first step (Simplified to Traditional) they convert; in the later steps (regional variants and
    vocabulary) their Traditional form maps to itself, so the standard does not rewrite it again (s2twp would
    make 註銷 "cancel" into 登出 "log out"). A project phrase reads in both standards exactly as written.

    Args:
        standard: a key of `STANDARDS`.
        phrases_file: the absolute path of the phrases (Simplified to Traditional) in OpenCC's text format.
        kept_file: the absolute path of their Traditional forms, each mapped to itself.
    """
    share = _share_dir()
    config = json.loads((share / f"{STANDARDS[standard]}.json").read_text(encoding="utf-8"))
    config = _absolute_dictionaries(config, share)
    ours = {"type": "text", "file": phrases_file}
    kept = {"type": "text", "file": kept_file}
    segmentation = config["segmentation"]
    segmentation["dict"] = {"type": "group", "match_policy": "union", "dicts": [ours, segmentation["dict"]]}
    for index, step in enumerate(config["conversion_chain"]):
        group = step.get("dict") or {}
        if group.get("type") != "group" or group.get("match_policy", "short_circuit") != "short_circuit":
            raise RuntimeError(f"opencc {STANDARDS[standard]}.json changed shape: step {index + 1} is not a group")
        group["dicts"] = [ours if index == 0 else kept, *group["dicts"]]
    config["name"] = f"{config.get('name', standard)}, with Frontline's phrases"
    return config


@functools.cache
def regional_converter(standard: str) -> Any:
    """The converter to Traditional Chinese of `standard` (a key of `STANDARDS`), made once per process."""
    from opencc import OpenCC

    with tempfile.TemporaryDirectory(prefix="frontline-opencc-") as folder:
        pairs = read_phrases()
        phrases = pathlib.Path(folder) / "phrases.txt"
        phrases.write_text("".join(f"{zh}\t{hant}\n" for zh, hant in pairs), encoding="utf-8")
        kept = pathlib.Path(folder) / "kept.txt"
        kept.write_text("".join(f"{hant}\t{hant}\n" for hant in dict.fromkeys(h for _, h in pairs)), encoding="utf-8")
        config = pathlib.Path(folder) / f"{STANDARDS[standard]}-frontline.json"
        made_config = regional_config(standard, str(phrases), str(kept))
        config.write_text(json.dumps(made_config, ensure_ascii=False), encoding="utf-8")
        made = OpenCC(str(config))  # reads every dictionary now; the folder can go
    logger.debug("Traditional Chinese: %s with %s", STANDARDS[standard], PHRASES_FILE.name)
    return made


@functools.lru_cache(maxsize=4096)
def _to_traditional(text: str, standard: str) -> str:
    return _convert(regional_converter(standard), text)


def to_traditional(text: str, standard: Optional[str] = None) -> str:
    """Convert Simplified Chinese to Traditional as the customer should read it.

    Args:
        text: Simplified Chinese (other scripts pass through).
        standard: "taiwan" or "hong_kong"; the `i18n.traditional` setting when None.

    Raises:
        SettingsError: the setting is invalid (checked at start-up by `python -m bot run`).
    """
    chosen = standard or traditional_standard()
    if chosen not in STANDARDS:
        raise ValueError(f"unknown Traditional standard {chosen!r}; use one of {', '.join(STANDARDS)}")
    return _to_traditional(text, chosen)


@functools.lru_cache(maxsize=4096)
def to_simplified(text: str) -> str:
    """Convert Traditional Chinese to Simplified (OpenCC t2s), for language detection and the NLU."""
    return convert("t2s", text)
