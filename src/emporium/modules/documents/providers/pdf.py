"""PDF rendering: a Jinja2 HTML template laid out by fpdf2 (pure Python; decision 030 says why).

fpdf2's built-in fonts cover Latin-1, so text outside it is folded to its closest ASCII form
(`ř` -> `r`) and anything left becomes `?`: no system font is needed. Amounts are formatted from
integer minor units with the currency's exponent.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from emporium.modules.documents.domain import Document, format_amount

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return env.get_template("document.html")


def latin1(text: str) -> str:
    """What fpdf2's core fonts can draw: Latin-1 kept, the rest folded to ASCII or `?`."""
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        folded = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        out.append(folded or "?")
    return "".join(out)


def context(doc: Document) -> dict[str, Any]:
    c = doc.content

    def money(minor: int | None) -> str | None:
        return None if minor is None else format_amount(minor, c.currency)

    return {
        "title": doc.title,
        "number": doc.display_number,
        "order_number": c.order_number,
        "issued": f"{doc.issued_at.astimezone(UTC):%Y-%m-%d}",
        "customer": " ".join(part for part in (c.customer_name, f"<{c.customer_email}>") if part),
        "carrier": c.carrier,
        "tracking_number": c.tracking_number,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price_minor),
                "line_total": money(line.line_total_minor),
            }
            for line in c.lines
        ],
        "subtotal": money(c.subtotal_minor),
        "shipping": money(c.shipping_minor),
        "total": money(c.total_minor),
        "refunded": money(c.refunded_minor),
        "total_refunded": money(c.total_refunded_minor),
    }


def render_html(doc: Document) -> str:
    return _template().render(**context(doc))


def render_pdf(doc: Document) -> bytes:
    # Imported on first render, not with the app: fpdf2 costs ~0.4 s of import (more on a busy machine),
    # which an HTTP process (or a Lambda cold start) that never renders should not pay.
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(latin1(f"{doc.title} {doc.display_number}"))
    pdf.set_creation_date(doc.issued_at)  # the same document renders to the same bytes
    pdf.add_page()
    pdf.set_font("helvetica", size=10)
    pdf.write_html(latin1(render_html(doc)))
    return bytes(pdf.output())
