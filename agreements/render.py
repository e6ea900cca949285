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
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

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


def qr_svg(url: str) -> Markup:
    """The verification URL as a QR code, inline SVG (no image file, nothing fetched)."""
    code = segno.make(url, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=3, border=0, dark="#000", xmldecl=False, nl=False)
    return Markup(out.getvalue().decode("utf-8"))  # noqa: S704  (segno's output: modules as paths, no input text)


def seal_svg(committee: str, *, size_mm: float = 40.0) -> Markup:
    """The committee's round seal, drawn: a red ring, a five-pointed star in the middle and
    the committee's name along the upper arc, each character turned to face the centre.

    Characters are placed one by one (no <textPath>, which WeasyPrint's SVG does not lay
    out), and the name is escaped: it is data, like everything else in the document."""
    r = 50.0
    chars = list(committee) or [" "]
    # The name spans more of the ring the longer it is (up to 270 degrees), in characters
    # as large as fit side by side on that arc, just inside the ring.
    span = min(270.0, max(150.0, 20.0 * len(chars)))
    size = min(15.0, max(6.0, 2 * math.pi * 36.0 * span / 360.0 / len(chars) * 0.95))
    text_r = 44.5 - size / 2
    parts = []
    for i, char in enumerate(chars):
        angle = -span / 2 + span * (i + 0.5) / len(chars)  # degrees from the top, clockwise
        theta = math.radians(angle)
        x = r + text_r * math.sin(theta)
        y = r - text_r * math.cos(theta)
        # The baseline sits a third of the size below the centre line, so each character is
        # centred on the arc (WeasyPrint's SVG ignores dominant-baseline).
        parts.append(
            f'<text x="0" y="{size * 0.36:.2f}" transform="translate({x:.2f} {y:.2f})'
            f' rotate({angle:.2f})" text-anchor="middle" font-size="{size:.1f}">'
            f"{escape(char)}</text>"
        )
    star = []
    for k in range(10):
        radius = 14.0 if k % 2 == 0 else 5.6
        theta = math.radians(-90 + 36 * k)
        star.append(f"{r + radius * math.cos(theta):.2f},{r + 2 + radius * math.sin(theta):.2f}")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"'
        f' width="{size_mm}mm" height="{size_mm}mm" class="seal" role="img">'
        f'<g fill="#d0021b" stroke="none" font-family="Noto Sans CJK SC" font-weight="bold">'
        f'<circle cx="50" cy="50" r="47.5" fill="none" stroke="#d0021b" stroke-width="3"/>'
        f'<polygon points="{" ".join(star)}"/>'
        f"{''.join(parts)}"
        f"</g></svg>"
    )
    return Markup(svg)  # noqa: S704  (built here; the committee's name is escaped above)


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
