"""Notifications workflows: one outcome each; no transaction is held across an SMTP, SMS or webhook call.

Email and SMS, per (consumer, event):

    tx1: inbox seen? -> done.  Claim the message row (a lease); on the first try count it against
         the org's hourly cap -> over it: `skipped` + inbox, done.  commit
    send (no transaction open)  -> refused for good: tx `failed` + inbox;  other error: raise (the bus retries)
    tx2: `sent` + inbox row.  commit

If the database is lost between the send and tx2, tx2 is retried (with
back-off) while the lease holds, so an outage of the database alone sends
nothing twice. A crash in that window, or an outage longer than the lease,
re-sends once the lease has expired (the `Message-ID` is the same, so mail
clients fold the copies); everything else happens once per (consumer, event).

Webhooks: the subscriber's transaction inserts one delivery per matching
endpoint together with its inbox row; the delivery worker (`jobs.py`) then
calls `deliver_due` in a loop: claim due deliveries (lease, SKIP LOCKED),
send them concurrently, record every attempt and the next step in one
transaction.
"""

from __future__ import annotations

from emporium.modules.notifications.providers import Notifiers, NotifierSettings, install, uninstall
from emporium.modules.notifications.workflows.common import Clock, utcnow
from emporium.modules.notifications.workflows.endpoints import (
    ENDPOINT_RULES,
    check_endpoint_url,
    delivery_attempts,
    list_deliveries,
    replay_delivery,
    rotate_secret,
)
from emporium.modules.notifications.workflows.messages import EmailNotice, TextNotice, send_email, send_text
from emporium.modules.notifications.workflows.webhooks import (
    DeliveryReport,
    deliver_due,
    fan_out_webhooks,
    prune_quotas,
    release_claims,
)

__all__ = [
    "ENDPOINT_RULES",
    "Clock",
    "DeliveryReport",
    "EmailNotice",
    "NotifierSettings",
    "Notifiers",
    "TextNotice",
    "check_endpoint_url",
    "deliver_due",
    "delivery_attempts",
    "fan_out_webhooks",
    "install",
    "list_deliveries",
    "prune_quotas",
    "release_claims",
    "replay_delivery",
    "rotate_secret",
    "send_email",
    "send_text",
    "uninstall",
    "utcnow",
]
