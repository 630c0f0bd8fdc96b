"""What the outbox backlog means (behind, stalled, danger) and what each meaning sheds (decision 018)."""

from __future__ import annotations

import pytest

from emporium.bootstrap.modules import INSTALLED
from emporium.platform.db.engine import Database
from emporium.platform.events.backlog import BacklogSampler, BacklogSettings, Pressure, Reading

SETTINGS = BacklogSettings(shed_threshold=1_000, shed_age_seconds=300, stall_seconds=60, danger_threshold=1_000_000)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def sampler(clock: Clock) -> BacklogSampler:
    # observe() does no I/O: the database is never reached in these tests.
    return BacklogSampler(Database("postgresql://unused@127.0.0.1:1/unused"), settings=SETTINGS, clock=clock)


def reading(clock: Clock, head: int | None, size: int, age: float = 1.0) -> Reading:
    return Reading(size if head is not None else 0, age if head is not None else 0.0, head, clock())


def test_a_small_young_backlog_is_no_pressure_however_long_it_stands_still() -> None:
    clock = Clock()
    s = sampler(clock)
    for _ in range(10):
        clock.now += 30
        assert s.observe(reading(clock, 5, 999, age=299)) is Pressure.NONE


def test_a_large_backlog_that_keeps_moving_is_behind_and_one_that_stops_is_stalled() -> None:
    clock = Clock()
    s = sampler(clock)
    head = 1
    for _ in range(10):  # consumers deliver 100 events every 30 s: behind, never stalled
        clock.now += 30
        head += 100
        assert s.observe(reading(clock, head, 5_000)) is Pressure.BEHIND
    assert s.delivery_rate == pytest.approx(100 / 30)
    clock.now += 30
    assert s.observe(reading(clock, head, 5_100)) is Pressure.BEHIND  # 30 s without progress: not yet
    clock.now += 30
    assert s.observe(reading(clock, head, 5_200)) is Pressure.STALLED  # 60 s: consumers are gone
    assert s.delivery_rate == 0
    clock.now += 2
    assert s.observe(reading(clock, head + 1, 5_200)) is Pressure.BEHIND  # one delivery: back


def test_an_old_head_alone_makes_a_backlog_and_an_empty_outbox_clears_everything() -> None:
    clock = Clock()
    s = sampler(clock)
    clock.now += 1
    assert s.observe(reading(clock, 7, 3, age=301)) is Pressure.BEHIND
    clock.now += 61
    assert s.observe(reading(clock, 7, 3, age=362)) is Pressure.STALLED
    clock.now += 1
    assert s.observe(reading(clock, None, 0)) is Pressure.NONE


def test_a_backlog_that_appears_later_gets_the_whole_stall_window_before_it_counts_as_stalled() -> None:
    clock = Clock()
    s = sampler(clock)
    clock.now += 3_600  # an hour with an empty outbox
    assert s.observe(reading(clock, None, 0)) is Pressure.NONE
    clock.now += 2
    assert s.observe(reading(clock, 10, 50_000)) is Pressure.BEHIND


def test_danger_is_reached_by_size_whether_or_not_anyone_delivers() -> None:
    clock = Clock()
    s = sampler(clock)
    clock.now += 1
    assert s.observe(reading(clock, 10, 1_000_000)) is Pressure.DANGER


CASES = [
    # (method, path) -> the lowest pressure that sheds it (None: never shed by the backlog)
    (("GET", "/v1/products/prd_1"), Pressure.BEHIND),
    (("GET", "/v1/categories"), Pressure.BEHIND),
    (("POST", "/v1/categories"), Pressure.STALLED),
    (("PATCH", "/v1/products/prd_1"), Pressure.STALLED),
    (("GET", "/v1/orders"), None),
    (("GET", "/v1/admin/dead-letters"), None),
    (("POST", "/v1/orders"), Pressure.DANGER),
    (("POST", "/v1/payments/pay_1/refunds"), Pressure.DANGER),
    (("POST", "/v1/provider-webhooks/sandbox"), None),
]


@pytest.mark.parametrize(("request_line", "lowest"), CASES)
def test_each_pressure_sheds_what_decision_018_says(request_line: tuple[str, str], lowest: Pressure | None) -> None:
    method, path = request_line
    policy = INSTALLED.shed_policy()  # the route classes the modules' manifests declare
    priority = policy.priority_of(method, path)
    shed = [p for p in Pressure if policy.shed_for_backlog(p, method, path, priority)]
    assert shed == ([] if lowest is None else [p for p in Pressure if p >= lowest])
