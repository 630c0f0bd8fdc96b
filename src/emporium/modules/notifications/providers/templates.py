"""Message templates (Jinja2) in `modules/notifications/templates/`: subject, text and HTML parts, SMS bodies.

HTML is autoescaped (a customer's name is data, not markup); text parts are not.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render(name: str, context: dict[str, Any]) -> str:
    return environment().get_template(name).render(**context)


def render_email(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of `template`."""
    subject = " ".join(render(f"{template}.subject.txt", context).split())
    return subject, render(f"{template}.txt", context), render(f"{template}.html", context)
