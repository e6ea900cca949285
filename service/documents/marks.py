"""Marks printed on the documents we issue: the issuer's round seal, drawn as SVG, and the
QR code of the verification URL. Shared by the agreements (committee's seal) and the
confirmation rulings (court's seal); inline SVG, so nothing is fetched when rendering."""

from __future__ import annotations

import io
import math

import segno
from markupsafe import Markup, escape


def qr_svg(url: str) -> Markup:
    """The verification URL as a QR code, inline SVG (no image file, nothing fetched)."""
    code = segno.make(url, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=3, border=0, dark="#000", xmldecl=False, nl=False)
    return Markup(out.getvalue().decode("utf-8"))  # noqa: S704  (segno's output: modules as paths, no input text)


def seal_svg(issuer: str, *, size_mm: float = 40.0) -> Markup:
    """The issuer's round seal (a committee's or a court's), drawn: a red ring, a
    five-pointed star in the middle and the issuer's name along the upper arc, each
    character turned to face the centre.

    Characters are placed one by one (no <textPath>, which WeasyPrint's SVG does not lay
    out), and the name is escaped: it is data, like everything else in the document."""
    r = 50.0
    chars = list(issuer) or [" "]
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
    return Markup(svg)  # noqa: S704  (built here; the issuer's name is escaped above)
