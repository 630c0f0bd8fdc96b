"""Email adapters (service role): SMTP through aiosmtplib, or the log for development."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

import aiosmtplib
import structlog

from emporium.modules.notifications.domain import Email, SendRefused

_log = structlog.stdlib.get_logger("emporium.notifications")


class Mailer(Protocol):
    async def send(self, email: Email) -> None:
        """Hand the email to the server; raise SendRefused if it is refused for good, anything else to retry."""


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    sender: str = "Emporium <no-reply@emporium.invalid>"
    timeout: float = 15.0


def mime_of(email: Email, sender: str) -> EmailMessage:
    """A multipart/alternative message: the text part first, the HTML part preferred by clients."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = email.message_id
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, email: Email) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                mime_of(email, s.sender),
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                start_tls=s.starttls,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise SendRefused(f"recipient refused: {error}") from error
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600 and error.code not in (521, 554):  # 5xx: permanent, except server-wide errors
                raise SendRefused(f"{error.code} {error.message}") from error
            raise


class LogMailer:
    """Development: the email goes to the log, nowhere else."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    async def send(self, email: Email) -> None:
        _log.info("email_logged", to=email.to, subject=email.subject, message_id=email.message_id, text=email.text)
