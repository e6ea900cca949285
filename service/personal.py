"""Personal data: Chinese resident ID numbers and unified social credit codes.

Resident ID (GB 11643-1999): 6-digit region, 8-digit birth date, 3-digit sequence (odd for
men), and a check character by ISO 7064 MOD 11-2. Unified social credit code (GB 32100-2015):
18 characters from a 31-symbol alphabet with a MOD 31 check character.
"""

from __future__ import annotations

import re
from datetime import date

from service.i18n import N_

_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")

# What a resident ID looks like inside free text (logs, messages): masked wherever it is seen.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalise_id_number(value: str) -> str:
    return value.strip().upper()


def resident_id_problem(value: str) -> str | None:
    """Why ``value`` is not a valid resident ID number, or None if it is."""
    if not _ID_SHAPE.match(value):
        return N_("A resident ID number has 18 characters: 17 digits and a digit or X.")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return N_("The birth date inside this ID number does not exist.")
    if born.year < 1900 or born > date.today():
        return N_("The birth date inside this ID number does not exist.")
    if id_check_char(value[:17]) != value[17]:
        return N_(
            "The check digit of this ID number is wrong; please check it was typed correctly."
        )
    return None


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    """Why ``value`` is not a valid unified social credit code, or None if it is."""
    if not _USCC_SHAPE.match(value):
        return N_("A unified social credit code has 18 letters and digits (no I, O, S, V or Z).")
    if uscc_check_char(value[:17]) != value[17]:
        return N_("The check character of this credit code is wrong; please check it.")
    return None


def mask_id_number(value: str | None) -> str | None:
    """``110105199001011234`` -> ``110105********1234``; other lengths keep only the ends."""
    if not value:
        return value
    if len(value) == 18:
        return value[:6] + "*" * 8 + value[-4:]
    keep = min(2, len(value) // 4)
    return value[:keep] + "*" * (len(value) - 2 * keep) + (value[-keep:] if keep else "")


def mask_in_text(text: str) -> str:
    """Mask every resident ID number that appears in free text (log lines, messages)."""
    return _ID_IN_TEXT.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
