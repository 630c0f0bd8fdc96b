from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emporium.platform.money import CURRENCY_EXPONENTS, CurrencyMismatch, Money, total

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
amounts = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def money_pairs(draw: st.DrawFn) -> tuple[Money, Money]:
    currency = draw(currencies)
    return Money(draw(amounts), currency), Money(draw(amounts), currency)


@given(money_pairs())
def test_addition_is_exact_and_commutative(pair: tuple[Money, Money]) -> None:
    a, b = pair
    assert (a + b).amount == a.amount + b.amount
    assert a + b == b + a
    assert (a + b) - b == a


@given(st.lists(amounts, max_size=50), currencies)
def test_total_equals_the_sum_of_amounts(values: list[int], currency: str) -> None:
    assert total((Money(v, currency) for v in values), currency) == Money(sum(values), currency)


@given(amounts, currencies, st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=20))
def test_allocation_never_loses_or_creates_a_minor_unit(amount: int, currency: str, ratios: list[int]) -> None:
    if sum(ratios) == 0:
        with pytest.raises(ValueError):
            Money(amount, currency).allocate(ratios)
        return
    shares = Money(amount, currency).allocate(ratios)
    assert sum(s.amount for s in shares) == amount
    exact = [amount * r / sum(ratios) for r in ratios]
    assert all(abs(s.amount - e) <= 1 for s, e in zip(shares, exact, strict=True))


@given(amounts, st.integers(min_value=0, max_value=10_000), currencies)
def test_multiplying_by_a_quantity_is_repeated_addition(amount: int, quantity: int, currency: str) -> None:
    unit = Money(amount, currency)
    assert unit * quantity == Money(amount * quantity, currency) == quantity * unit


def test_currencies_cannot_be_mixed() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "EUR") + Money(100, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "EUR") < Money(100, "USD")


@pytest.mark.parametrize("amount", [1.5, 10.0, True, "100"])
def test_floats_and_other_non_integers_are_refused(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _ = Money(100, "EUR") * 1.5  # type: ignore[operator]


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(1, "XYZ")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1230, "EUR"), "12.30 EUR"),
        (Money(-5, "USD"), "-0.05 USD"),
        (Money(500, "JPY"), "500 JPY"),
        (Money(1, "KWD"), "0.001 KWD"),
    ],
)
def test_format_uses_the_currency_exponent(money: Money, text: str) -> None:
    assert money.format() == text
