"""The agreement as HTML for the PDF: a pure function of a view model.

``agreement_html`` turns an ``AgreementDoc`` (built by agreements/document.py from the stored
version and its signatures) into the HTML that the PDF workers render. It reads nothing
but its argument and our own template and stylesheet, so the same view always gives the
same document.

Everything a person typed is data: Jinja2 autoescapes it, and it is never itself rendered as
a template, so ``<img src=...>`` or ``{{ 7*7 }}`` in a clause prints as those characters.
The only images are the signatures (PNG bytes, embedded as data: URIs, the one kind of
data: URI the PDF workers accept) and what is drawn here as inline SVG: the committee's
seal and the QR code of the verification URL.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from service.documents.marks import qr_svg, seal_svg

TEMPLATES = Path(__file__).resolve().parent / "templates" / "agreements"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PartyLine:
    role_label: str  # 申请人, 被申请人, 第三人
    name: str
    details: Sequence[str]  # "公民身份号码：…", "住址：…", each printed as is


@dataclass(frozen=True)
class InstalmentLine:
    due: str  # already a Chinese date: 2026年3月1日
    amount: str  # yuan, already formatted: 1,000.00


@dataclass(frozen=True)
class TermLine:
    number: int  # 1-based; printed as 一、二、…
    text: str
    instalments: Sequence[InstalmentLine] = ()


@dataclass(frozen=True)
class SignatureLine:
    label: str  # 申请人, 被申请人, 调解员
    name: str
    signed_at: str | None  # as printed; None: not signed (yet)
    image_png: bytes | None  # a drawn signature
    typed_name: str | None  # or a typed one


@dataclass(frozen=True)
class AgreementDoc:
    title: str
    number: str  # the case number: （2026）潞东调字第1号
    committee: str
    parties: Sequence[PartyLine]
    facts: str
    disputed_matters: str
    responsibilities: str
    terms: Sequence[TermLine]
    other_terms: Sequence[str]
    copies: int
    signatures: Sequence[SignatureLine]
    mediator: str
    sealed: bool  # the committee's seal image is shown only on the effective agreement
    effective_on: str | None
    verify_code: str | None
    verify_url: str | None
    draft_note: str | None  # "草稿　第3版　未生效" on previews of versions not in effect
    version: int
    content_sha256: str


_DIGITS = "零一二三四五六七八九"


def zh_numeral(n: int) -> str:
    """1-99 as Chinese numerals (一, 十, 十一, 二十三), the way clauses are numbered."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else f"{_DIGITS[tens]}十")
    return head + (_DIGITS[ones] if ones else "")


def png_data_uri(image: bytes | None) -> str | None:
    """A PNG as a data: URI; anything else (not a PNG) is left out, not embedded."""
    if not image or not image.startswith(PNG_SIGNATURE):
        return None
    return "data:image/png;base64," + base64.b64encode(image).decode("ascii")


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["zh_numeral"] = zh_numeral
    env.filters["png_data_uri"] = png_data_uri
    return env


@cache
def _stylesheet() -> Markup:
    """Our stylesheet, inlined: the document then needs no file but itself and the fonts."""
    css = (TEMPLATES / "pdf.css").read_text(encoding="utf-8")
    return Markup(css.replace("</", "<\\/"))  # noqa: S704  (our own file)


def agreement_html(doc: AgreementDoc) -> str:
    """The agreement as one self-contained HTML document (A4, zh-Hans)."""
    template = _environment().get_template("pdf.html")
    return template.render(
        doc=doc,
        stylesheet=_stylesheet(),
        copies_zh=zh_numeral(doc.copies),
        seal=seal_svg(doc.committee) if doc.sealed else None,
        qr=qr_svg(doc.verify_url) if doc.verify_url else None,
    )
