"""Model prices: the services and selectors behind `/api/public/models` and cost inference.

A price belongs to one project and matches model names by a regular expression (see
evalsite/llm/pricing.py for how a price is chosen and applied).
"""

import re
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from evalsite.llm.models import ModelPrice
from evalsite.llm.pricing import Price
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record, project_object_delete

USAGE_UNITS = ("CHARACTERS", "TOKENS", "MILLISECONDS", "SECONDS", "IMAGES", "REQUESTS")
EDITABLE_FIELDS = (
    "model_name",
    "match_pattern",
    "start_date",
    "unit",
    "input_price",
    "output_price",
    "total_price",
    "tokenizer_id",
    "tokenizer_config",
)


def model_price_list(*, project: Project) -> QuerySet[ModelPrice]:
    return ModelPrice.objects.filter(project=project).order_by("model_name", "-start_date", "id")


def model_price_get(*, project: Project, price_id: str) -> ModelPrice | None:
    return ModelPrice.objects.filter(project=project, id=price_id).first()


def model_prices_for_pricing(*, project: Project) -> list[Price]:
    """The project's prices, then the built-in ones, as pricing.Price values (for cost inference;
    pricing.find_price lets a project price override a built-in one). Two queries."""
    # managed_prices builds on this module's validation: imported here, not at the top.
    from evalsite.llm.managed_prices import managed_price_list

    rows = (
        ModelPrice.objects.filter(project=project)
        .order_by("-start_date", "id")
        .values_list("match_pattern", "input_price", "output_price", "total_price", "start_date")
    )
    own = [
        Price(match_pattern=pattern, input_price=inp, output_price=out, total_price=total, start_date=start)
        for pattern, inp, out, total, start in rows
    ]
    managed = [
        Price(
            match_pattern=price.match_pattern,
            input_price=price.input_price,
            output_price=price.output_price,
            total_price=price.total_price,
            start_date=price.start_date,
            managed=True,
        )
        for price in managed_price_list()
    ]
    return own + managed


# Error keys of model_price_problems (the API's field names) → model field names.
WIRE_TO_FIELD = {
    "matchPattern": "match_pattern",
    "unit": "unit",
    "inputPrice": "input_price",
    "outputPrice": "output_price",
    "totalPrice": "total_price",
}


def model_price_problems(fields: dict) -> dict[str, list[str]]:
    """What is wrong with a price's fields, by API field name (empty when valid)."""
    errors = {}
    try:
        re.compile(fields["match_pattern"])
    except re.error as exc:
        errors["matchPattern"] = [f"is not a valid regular expression: {exc}"]
    if fields.get("unit") not in USAGE_UNITS:
        errors["unit"] = [f"must be one of {', '.join(USAGE_UNITS)}"]
    for key, wire in (
        ("input_price", "inputPrice"),
        ("output_price", "outputPrice"),
        ("total_price", "totalPrice"),
    ):
        value = fields.get(key)
        if value is not None and value < 0:
            errors[wire] = ["must not be negative"]
    if fields.get("total_price") is not None and (
        fields.get("input_price") is not None or fields.get("output_price") is not None
    ):
        errors["totalPrice"] = ["give either totalPrice or inputPrice/outputPrice, not both"]
    return errors


def _validate(fields: dict) -> None:
    errors = model_price_problems(fields)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def model_price_create(
    *,
    project: Project,
    model_name: str,
    match_pattern: str,
    unit: str = "TOKENS",
    start_date: datetime | None = None,
    input_price: Decimal | None = None,
    output_price: Decimal | None = None,
    total_price: Decimal | None = None,
    tokenizer_id: str | None = None,
    tokenizer_config=None,
    actor: Actor = SYSTEM,
) -> ModelPrice:
    fields = {
        "model_name": model_name,
        "match_pattern": match_pattern,
        "unit": unit,
        "start_date": start_date,
        "input_price": input_price,
        "output_price": output_price,
        "total_price": total_price,
        "tokenizer_id": tokenizer_id,
        "tokenizer_config": tokenizer_config,
    }
    _validate(fields)
    price = ModelPrice.objects.create(project=project, **fields)
    audit_log_record(
        actor=actor,
        action="model_price.create",
        obj=price,
        organization=project.organization,
        project=project,
        model_name=model_name,
    )
    return price


@transaction.atomic
def model_price_update(*, project: Project, price: ModelPrice, actor: Actor = SYSTEM, **fields) -> ModelPrice:
    """Replace the editable fields of `price` (a PUT: absent optional fields become empty)."""
    if price.project_id != project.pk:
        raise ValueError("the price belongs to another project")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not editable: {', '.join(sorted(unknown))}")
    merged = {key: fields.get(key) for key in EDITABLE_FIELDS}
    merged["unit"] = merged["unit"] or "TOKENS"
    _validate(merged)
    for key, value in merged.items():
        setattr(price, key, value)
    price.save()
    audit_log_record(
        actor=actor,
        action="model_price.update",
        obj=price,
        organization=project.organization,
        project=project,
        model_name=price.model_name,
    )
    return price


@transaction.atomic
def model_price_delete(*, project: Project, price: ModelPrice, actor: Actor = SYSTEM) -> None:
    project_object_delete(
        project=project, obj=price, actor=actor, action="model_price.delete", model_name=price.model_name
    )
