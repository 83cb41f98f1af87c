"""Built-in model prices: the list in evalsite/llm/model_prices.json, kept in `ManagedModelPrice`.

A fresh install prices the common OpenAI, Anthropic, Google and Mistral models without anyone
entering a price (Langfuse ships such a list too, `isLangfuseManaged` on the wire). The file is
the source: this repository maintains it, each price with its effective `startDate`.

- Loading: on first use. A reader that finds the table empty loads the file (an insert that
  ignores rows already there, so two first readers at once write each row once). A database
  migrated before the file existed, or emptied (a test's flush), gets the list back without a
  step anyone has to remember.
- Refreshing: `manage.py model_prices_refresh [--file PATH]` makes the table equal to the file
  (new prices added, changed ones updated in place by their stable id, dropped ones deleted), so
  an upgrade that brings a new file, or a file of one's own, takes effect.
- Precedence: a project's own prices (/api/public/models) are tried first; a built-in price is
  used only when none of the project's prices matches the model (evalsite/llm/pricing.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from evalsite import timestamps
from evalsite.llm.models import ManagedModelPrice
from evalsite.llm.prices import USAGE_UNITS, model_price_problems

DATA_FILE = Path(__file__).with_name("model_prices.json")
FIELDS = {
    "modelName": "model_name",
    "matchPattern": "match_pattern",
    "startDate": "start_date",
    "unit": "unit",
    "inputPrice": "input_price",
    "outputPrice": "output_price",
    "totalPrice": "total_price",
    "tokenizerId": "tokenizer_id",
    "tokenizerConfig": "tokenizer_config",
}


@dataclass(frozen=True)
class RefreshResult:
    created: int
    updated: int
    deleted: int


def managed_price_rows(path: Path = DATA_FILE) -> list[dict]:
    """The file's prices as model field values; a ValidationError names the first bad entry."""
    try:
        document = json.loads(Path(path).read_text())
        entries = document["prices"]
    except (OSError, ValueError, KeyError, TypeError) as problem:
        raise ValidationError({"path": [f"{path} is not a model price file: {problem}"]}) from None
    rows, seen = [], set()
    for index, entry in enumerate(entries):
        where = f"prices[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
            raise ValidationError({"path": [f"{where}: needs an id"]})
        if entry["id"] in seen:
            raise ValidationError({"path": [f"{where}: id {entry['id']!r} appears twice"]})
        seen.add(entry["id"])
        row = {"id": entry["id"], "unit": "TOKENS"}
        for wire, field in FIELDS.items():
            if entry.get(wire) is not None:
                row[field] = entry[wire]
        try:
            if row.get("start_date") is not None:
                row["start_date"] = timestamps.parse_timestamp(row["start_date"])
            for key in ("input_price", "output_price", "total_price"):
                if row.get(key) is not None:
                    row[key] = Decimal(str(row[key]))
        except (timestamps.InvalidTimestamp, ArithmeticError, ValueError) as problem:
            raise ValidationError({"path": [f"{where}: {problem}"]}) from None
        if not isinstance(row.get("model_name"), str) or not isinstance(row.get("match_pattern"), str):
            raise ValidationError({"path": [f"{where}: needs modelName and matchPattern"]})
        problems = model_price_problems(row)
        if problems or row["unit"] not in USAGE_UNITS:
            raise ValidationError({"path": [f"{where}: {problems or 'unknown unit'}"]})
        rows.append(row)
    return rows


def managed_prices_ensure() -> None:
    """Load the shipped list when the table is empty (see the module's docstring)."""
    if not ManagedModelPrice.objects.exists():
        ManagedModelPrice.objects.bulk_create(
            [ManagedModelPrice(**row) for row in managed_price_rows()], ignore_conflicts=True
        )


def managed_price_list() -> list[ManagedModelPrice]:
    """Every built-in price by model name, newest start first; loaded on first use."""
    prices = list(ManagedModelPrice.objects.order_by("model_name", "-start_date", "id"))
    if not prices:
        managed_prices_ensure()
        prices = list(ManagedModelPrice.objects.order_by("model_name", "-start_date", "id"))
    return prices


def managed_price_get(*, price_id: str) -> ManagedModelPrice | None:
    found = ManagedModelPrice.objects.filter(id=price_id).first()
    if found is None and not ManagedModelPrice.objects.exists():
        managed_prices_ensure()
        found = ManagedModelPrice.objects.filter(id=price_id).first()
    return found


@transaction.atomic
def managed_prices_refresh(*, path: Path = DATA_FILE) -> RefreshResult:
    """Make the table equal to the file at `path`: add, update in place (by id) and delete."""
    rows = {row["id"]: row for row in managed_price_rows(path)}
    existing = {price.id: price for price in ManagedModelPrice.objects.select_for_update()}
    created = updated = 0
    for price_id, row in rows.items():
        values = {field: row.get(field) for field in FIELDS.values()}
        values["unit"] = row["unit"]
        price = existing.get(price_id)
        if price is None:
            ManagedModelPrice.objects.create(id=price_id, **values)
            created += 1
        elif any(getattr(price, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(price, field, value)
            price.save()
            updated += 1
    deleted, _ = ManagedModelPrice.objects.exclude(id__in=list(rows)).delete()
    return RefreshResult(created=created, updated=updated, deleted=deleted)
