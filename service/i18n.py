"""One translation mechanism for pages, scripts, API errors and the CLI.

Source strings are English msgids; ``locale/<lang>/LC_MESSAGES/messages.po`` holds each
translation. The .po files are compiled in memory at start-up with Babel, so there is no
build step. Simplified Chinese is the default language, English the second.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"zh_Hans": "简体中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_Hans"
HTML_LANG = {"zh_Hans": "zh-Hans", "en": "en"}


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated where shown."""
    return message


@lru_cache
def translations(language: str) -> NullTranslations:
    po = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language.replace("_Hans", ""))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def pick_language(*choices: str | None) -> str:
    """The first supported choice (query, then cookie); otherwise Chinese.

    The browser's Accept-Language is deliberately not consulted: the service is for Chinese
    committees and courts, and an English-configured phone must still show Chinese first.
    """
    for choice in choices:
        if choice in LANGUAGES:
            return choice
    return DEFAULT_LANGUAGE


def gettext(language: str, message: str, **params: object) -> str:
    """Translate ``message`` and fill its placeholders; parameters named ``*_label`` are
    msgids themselves (a status's name, say) and are translated too."""
    tr = translations(language)
    translated = tr.gettext(message)
    if not params:
        return translated
    filled = {
        key: tr.gettext(value) if key.endswith("_label") and isinstance(value, str) else value
        for key, value in params.items()
    }
    return translated.format(**filled)
