"""Notification adapters (service role) and the registry the runtime installs.

- email: `SmtpMailer` (aiosmtplib) when SMTP_HOST is set, else `LogMailer`;
- SMS: `TwilioSms` (a Twilio-compatible HTTP API) with SMS_PROVIDER=twilio, else `LogSms`;
- webhooks: `WebhookSender` on a transport guarded against SSRF (`platform.http.ssrf`).

`install(notifiers)` makes a registry the process default (the runtime does it
at start-up); workflows use it unless a caller passes its own (tests do).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emporium.modules.notifications.providers.email import LogMailer, Mailer, SmtpMailer, SmtpSettings
from emporium.modules.notifications.providers.sms import LogSms, SmsPort, TwilioSettings, TwilioSms
from emporium.modules.notifications.providers.webhooks import WebhookSender
from emporium.platform.http.ssrf import SsrfGuard

__all__ = ["Mailer", "NotifierSettings", "Notifiers", "SmsPort", "install", "installed", "uninstall"]


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    smtp: SmtpSettings | None = None  # None: emails go to the log
    email_from: str = "Emporium <no-reply@emporium.invalid>"
    twilio: TwilioSettings | None = None  # None: texts go to the log
    email_hourly_cap: int = 1000
    sms_hourly_cap: int = 200
    webhook_timeout: float = 15.0
    webhook_concurrency: int = 16
    guard: SsrfGuard = field(default_factory=SsrfGuard)


class Notifiers:
    def __init__(
        self,
        settings: NotifierSettings = NotifierSettings(),
        *,
        mailer: Mailer | None = None,
        sms: SmsPort | None = None,
    ) -> None:
        self.settings = settings
        self.guard = settings.guard
        self.mailer: Mailer = mailer or (SmtpMailer(settings.smtp) if settings.smtp else LogMailer(settings.email_from))
        self.sms: SmsPort = sms or (TwilioSms(settings.twilio) if settings.twilio else LogSms())
        self._webhooks: WebhookSender | None = None

    @property
    def webhooks(self) -> WebhookSender:
        if self._webhooks is None:  # built on first use: a process that never sends opens no pool
            self._webhooks = WebhookSender(
                self.guard,
                timeout=self.settings.webhook_timeout,
                max_connections=max(10, self.settings.webhook_concurrency),
            )
        return self._webhooks

    async def close(self) -> None:
        await self.sms.close()
        if self._webhooks is not None:
            await self._webhooks.close()


_installed: list[Notifiers] = [Notifiers()]


def installed() -> Notifiers:
    return _installed[-1]


def install(notifiers: Notifiers) -> None:
    """Make `notifiers` the process default (until `uninstall`)."""
    _installed.append(notifiers)


def uninstall(notifiers: Notifiers) -> None:
    if len(_installed) > 1 and notifiers in _installed:
        _installed.remove(notifiers)
