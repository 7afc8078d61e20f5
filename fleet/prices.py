"""The price table (prices/prices.yaml, or a user's file given with --prices) and the amounts summed from it.

Every price has its unit, currency, source and date; one known only as a bound (`bound: upper`) or a range
(`upTo`) is summed into an Amount's range, and a price in another currency is converted at the table's own,
cited rate (fx.<CUR>.USD). An Amount keeps its known part and names its unknown parts: a sum never reads only
"unknown", and never looks complete when it is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleet.config_schema import PROJECT_ROOT, SAFE_LOADER

PRICES_PATH = PROJECT_ROOT / "prices" / "prices.yaml"
HOURS_PER_MONTH = 730
# Seconds per unit for rates; None for what is not a rate in time (a compute unit, a multiplier). A gb-month is
# per GB stored, so its per-second figure is per GB.
UNITS = {"hour": 3600.0, "second": 1.0, "month": HOURS_PER_MONTH * 3600.0, "gb-month": HOURS_PER_MONTH * 3600.0}
UNITS |= {"cu": None, "multiplier": None, "one-off": None, "year": HOURS_PER_MONTH * 3600.0 * 12}
_REQUIRED = ("id", "what", "amount", "currency", "unit", "source", "date")
# A price a source gives only as a bound: `bound: upper` (it costs at most `amount`) or a range (`amount` up to
# `upTo`). Both are summed into an Amount's range, never into its exact figure.
BOUNDS = ("", "upper")
# Prices in another currency are converted at a rate the table itself holds, with its source: fx.<CUR>.USD.
FX_PREFIX = "fx."


class PriceTableError(ValueError):
    """A price entry without its unit, currency, source or date; the message names the entry and the field."""


@dataclass(frozen=True)
class Price:
    id: str
    what: str
    amount: float  # USD (converted at fx.<CUR>.USD when the entry was in another currency)
    currency: str
    unit: str
    source: str
    date: str
    trust: str = ""  # how far to rely on it (third-party catalogs say so)
    bound: str = ""  # "upper": a source gives only "at most amount"
    up_to: float | None = None  # a range: amount up to up_to
    converted: str = ""  # "¥15/hour at 0.138 USD/CNY (fx.CNY.USD)" when the source's currency was not USD
    origin: str = ""  # e.g. "Alibaba pricing API, China site (CNY)", for prices written by `make prices`

    @property
    def per_second(self) -> float:
        """The figure per second (for a bound or a range, its high end)."""
        divisor = UNITS[self.unit]
        assert divisor is not None, f"{self.id} is a multiplier, not a rate"
        return self.span().upper / divisor

    def span(self) -> Amount:
        """The price in its own unit: exact, or a range (an upper bound's low end is 0: nothing known below it)."""
        if self.bound == "upper":
            return Amount(0.0, upper=self.amount)
        if self.up_to is not None:
            return Amount(self.amount, upper=self.up_to)
        return Amount(self.amount)

    def rate(self) -> Amount:
        """Per second, with its range."""
        divisor = UNITS[self.unit]
        assert divisor is not None, f"{self.id} is not a rate in time"
        return self.span().times(1 / divisor)

    def cited(self) -> str:
        bound = " (an upper bound)" if self.bound == "upper" else ""
        return f"{self.source}, {self.date}{bound}" + (f"; {self.converted}" if self.converted else "")


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, Price]

    def get(self, price_id: str) -> Price | None:
        return self.prices.get(price_id)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def load_prices(paths: Sequence[Path] = (PRICES_PATH,)) -> PriceTable:
    """The shipped table, then any user files (later entries with the same id replace earlier ones)."""
    entries: dict[str, tuple[str, dict[str, Any]]] = {}
    problems = []
    for path in paths:
        # libyaml's parser (config_schema.SAFE_LOADER): this table is read per region planned, and pure Python's
        # parse of it cost a fifth of each synthesis.
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
        seen = set()
        for index, entry in enumerate(document.get("prices") or []):
            where = f"{path.name}: prices[{index}]"
            missing = [k for k in _REQUIRED if entry.get(k) in (None, "")]
            if missing:
                problems.append(f"{where} ({entry.get('id', '?')}) lacks {', '.join(missing)}")
                continue
            if entry["unit"] not in UNITS:
                problems.append(f"{where} ({entry['id']}): unit '{entry['unit']}' is not one of {', '.join(UNITS)}")
                continue
            if entry["id"] in seen:
                problems.append(f"{where}: '{entry['id']}' appears twice in {path.name}")
            seen.add(entry["id"])
            if not _number(entry["amount"]):
                problems.append(f"{where} ({entry['id']}): amount must be a positive number")
                continue
            if (entry.get("bound") or "") not in BOUNDS:
                problems.append(f"{where} ({entry['id']}): bound must be 'upper' or left out")
                continue
            if "upTo" in entry and not (_number(entry["upTo"]) and entry["upTo"] >= entry["amount"]):
                problems.append(f"{where} ({entry['id']}): upTo must be a number at least amount")
                continue
            entries[entry["id"]] = (where, entry)
    prices: dict[str, Price] = {}
    for price_id, (where, entry) in entries.items():
        amount, up_to, converted = entry["amount"], entry.get("upTo"), ""
        currency = str(entry["currency"])
        if entry["unit"] != "multiplier" and currency != "USD" and not price_id.startswith(FX_PREFIX):
            fx = entries.get(f"{FX_PREFIX}{currency}.USD")
            if fx is None:
                problems.append(
                    f"{where} ({price_id}): a {currency} price needs {FX_PREFIX}{currency}.USD (a multiplier with its"
                    " source and date) to be summed; add it, or convert and cite the rate"
                )
                continue
            rate = fx[1]["amount"]
            converted = f"{currency} {amount:g}/{entry['unit']} at {rate:g} USD/{currency} ({FX_PREFIX}{currency}.USD)"
            amount, up_to = amount * rate, None if up_to is None else up_to * rate
            currency = "USD"
        prices[price_id] = Price(
            **{k: amount if k == "amount" else currency if k == "currency" else str(entry[k]) for k in _REQUIRED},
            trust=str(entry.get("trust") or ""),
            bound=str(entry.get("bound") or ""),
            up_to=up_to,
            converted=converted,
            origin=str(entry.get("origin") or ""),
        )
    if problems:
        raise PriceTableError("the price table is invalid:\n  - " + "\n  - ".join(problems))
    return PriceTable(prices)


@dataclass(frozen=True)
class Amount:
    """US dollars: the figure every exactly priced part gives (`usd`), the upper end its bounded parts allow
    (`upper`: a price a source gives only as a bound, or as a range, at its high end), and the prices no source
    gives, by id (`missing`). A sum keeps its known part and names its unknown ones: it never reads only
    "unknown", and never looks complete when it is not."""

    usd: float | None
    missing: tuple[str, ...] = ()
    upper: float | None = None  # None: the same as usd

    def __post_init__(self) -> None:
        if self.usd is None:  # Amount(None, ids): nothing known but the ids
            object.__setattr__(self, "usd", 0.0)
        if self.upper is None or self.upper < self.usd:
            object.__setattr__(self, "upper", self.usd)
        object.__setattr__(self, "missing", tuple(sorted(set(self.missing))))

    @staticmethod
    def zero() -> Amount:
        return Amount(0.0)

    @staticmethod
    def unknown(*price_ids: str) -> Amount:
        return Amount(0.0, price_ids)

    @property
    def known(self) -> bool:
        """Every part priced (exactly or at a bound)."""
        return not self.missing

    @property
    def exact(self) -> bool:
        return self.known and self.upper == self.usd

    @property
    def high(self) -> float:
        """What the budget holds: the exact parts plus the bounded parts at their bound."""
        return self.upper

    @property
    def exact_text(self) -> bool:
        return f"{self.usd:,.2f}" == f"{self.upper:,.2f}"

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.usd + other.usd, self.missing + other.missing, self.upper + other.upper)

    def times(self, factor: float) -> Amount:
        if factor == 0:  # none of a thing costs nothing, whatever its price
            return Amount(0.0)
        return Amount(self.usd * factor, self.missing, self.upper * factor)

    def __mul__(self, other: Amount) -> Amount:
        return Amount(self.usd * other.usd, self.missing + other.missing, self.upper * other.upper)

    def text(self) -> str:
        figure = f"${self.usd:,.2f}" if self.exact_text else f"${self.usd:,.2f} to ${self.upper:,.2f}"
        if not self.missing:
            return figure
        return f"{figure} + unknown ({', '.join(self.missing)})"

    def short(self) -> str:
        """For tables: the figure, a range, and '+ N unknown' instead of the ids."""
        figure = f"${self.usd:,.2f}" if self.exact_text else f"${self.usd:,.2f}..${self.upper:,.2f}"
        return figure + (f" + {len(self.missing)} unknown" if self.missing else "")

    def as_json(self) -> dict[str, Any]:
        return {
            "usd": round(self.usd, 6),
            "upperUsd": round(self.upper, 6),
            "complete": self.known,
            "missingPrices": list(self.missing),
        }


def total(amounts: Iterable[Amount]) -> Amount:
    result = Amount.zero()
    for amount in amounts:
        result = result + amount
    return result
