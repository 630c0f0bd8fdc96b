"""Replaying a dead letter: run its consumer's handler again, now, in this process.

The handler is the consumer's own (the same code the dispatcher runs), so its
inbox makes a replay idempotent: replaying an event the consumer did process
after all changes nothing. Success marks the letter replayed; a new failure is
recorded on it and answered as `ReplayFailed`.
"""

from __future__ import annotations

from emporium.platform.db.engine import Database
from emporium.platform.errors import Conflict
from emporium.platform.events import workflows
from emporium.platform.events.dispatcher import error_text
from emporium.platform.events.observed import run_handler
from emporium.platform.events.store import DeadLetter
from emporium.platform.events.subscriptions import Delivery, Subscriptions
from emporium.platform.telemetry.logging import get_logger

_log = get_logger("emporium.events")


class ConsumerNotHosted(Conflict):
    code = "consumer_not_hosted"
    title = "This process does not run the dead letter's consumer"


class ReplayFailed(Conflict):
    code = "replay_failed"
    title = "The consumer failed again"


async def replay_dead_letter(
    db: Database, subscriptions: Subscriptions, dead_letter_id: str, *, org_id: str | None = None
) -> DeadLetter:
    letter = await workflows.dead_letter_to_replay(db, dead_letter_id, org_id=org_id)
    subscription = subscriptions.consumer(letter.consumer)
    if subscription is None:
        raise ConsumerNotHosted(f"consumer {letter.consumer!r} is not registered", consumer=letter.consumer)
    delivery = Delivery(letter.event, letter.consumer, letter.attempts + 1)
    try:
        await run_handler(subscription, db, delivery)
    except Exception as error:
        await workflows.record_replay_failure(db, letter.id, error_text(error))
        _log.warning("dead_letter_replay_failed", dead_letter_id=letter.id, error=error_text(error))
        raise ReplayFailed(f"{letter.consumer} failed again: {error_text(error)}", dead_letter_id=letter.id) from None
    _log.info("dead_letter_replayed", dead_letter_id=letter.id, consumer=letter.consumer, event_id=letter.event_id)
    return await workflows.mark_replayed(db, letter.id)
