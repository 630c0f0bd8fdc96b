"""Text-message adapters (service role): a Twilio-compatible HTTP API, or the log for development."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx
import structlog

from emporium.modules.notifications.domain import SendRefused, TextMessage

_log = structlog.stdlib.get_logger("emporium.notifications")


class SmsPort(Protocol):
    async def send(self, message: TextMessage) -> None:
        """Send; raise SendRefused if refused for good (a 4xx such as an invalid number), anything else to retry."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    sender: str
    api_base: str = "https://api.twilio.com"
    timeout: float = 15.0


class TwilioSms:
    """`POST /2010-04-01/Accounts/{sid}/Messages.json`, basic auth (sid, token), form fields To, From, Body."""

    def __init__(self, settings: TwilioSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client or httpx.AsyncClient(timeout=settings.timeout, trust_env=False)

    async def send(self, message: TextMessage) -> None:
        s = self.settings
        response = await self._client.post(
            f"{s.api_base}/2010-04-01/Accounts/{s.account_sid}/Messages.json",
            auth=(s.account_sid, s.auth_token),
            data={"To": message.to, "From": s.sender, "Body": message.body},
        )
        if response.is_success:
            return
        detail = f"{response.status_code} {response.text[:300]}"
        if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 408, 429):
            raise SendRefused(detail)  # the message itself is wrong: retrying will not help
        raise RuntimeError(f"SMS provider answered {detail}")

    async def close(self) -> None:
        await self._client.aclose()


class LogSms:
    """Development: the text goes to the log, nowhere else."""

    async def send(self, message: TextMessage) -> None:
        _log.info("sms_logged", to=message.to, body=message.body)

    async def close(self) -> None:
        return None
