"""Money: integer minor units plus an ISO 4217 currency. No floats, ever.

Arithmetic between different currencies raises; amounts are exact integers, so
sums never drift. `allocate` splits an amount by ratios without losing a cent
(the remainder goes to the first shares), for refunds and discounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Self

# Minor-unit exponent of the ISO 4217 currencies we accept. A currency missing
# here is refused rather than guessed: a wrong exponent mis-prices by 10x-100x.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2,
    "CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2,
    "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0,
    "KES": 2, "KRW": 0, "KWD": 3, "MAD": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2,
    "NZD": 2, "OMR": 3, "PEN": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2,
    "RSD": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2,
    "UAH": 2, "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip


class CurrencyMismatch(ValueError):
    pass


def is_currency(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:  # bool is an int subclass; a float is a bug
            raise TypeError(f"Money amount must be an int of minor units, got {self.amount!r}")
        if self.currency not in CURRENCY_EXPONENTS:
            raise ValueError(f"unknown ISO 4217 currency {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(0, currency)

    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENTS[self.currency]

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, quantity: int) -> Money:
        if type(quantity) is not int:
            raise TypeError("Money can only be multiplied by an integer quantity")
        return Money(self.amount * quantity, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    @property
    def is_negative(self) -> bool:
        return self.amount < 0

    def allocate(self, ratios: Sequence[int]) -> list[Money]:
        """Split into shares proportional to `ratios`; the shares sum to exactly self."""
        if not ratios or any(r < 0 for r in ratios) or sum(ratios) == 0:
            raise ValueError("ratios must be non-negative with a positive sum")
        total = sum(ratios)
        shares = [self.amount * r // total for r in ratios]
        remainder = self.amount - sum(shares)
        step = 1 if remainder >= 0 else -1
        for i in range(abs(remainder)):
            shares[i % len(shares)] += step
        return [Money(s, self.currency) for s in shares]

    def format(self) -> str:
        """A plain decimal rendering, e.g. `12.30 EUR` (no locale rules)."""
        sign = "-" if self.amount < 0 else ""
        units, minor = divmod(abs(self.amount), 10**self.exponent)
        body = f"{units}.{minor:0{self.exponent}d}" if self.exponent else str(units)
        return f"{sign}{body} {self.currency}"


def total(amounts: Iterable[Money], currency: str) -> Money:
    """Sum of `amounts`, all in `currency` (an empty sum is zero)."""
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
