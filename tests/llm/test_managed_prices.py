"""Built-in model prices (evalsite/llm/managed_prices.py): shipped, loaded on first use, refreshed by a
command, overridden by a project's own prices, read through /api/public/models and the SDK."""

import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from evalsite.llm.managed_prices import DATA_FILE, managed_price_rows
from evalsite.llm.models import ManagedModelPrice
from evalsite.llm.prices import model_prices_for_pricing
from evalsite.llm.pricing import find_price
from evalsite.tenancy.roles import Role
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for
from tests.traces.factories import ModelPriceFactory
from traces.models import Observation

PROVIDER_MODELS = [
    "gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo", "gpt-4.1", "o3-mini", "text-embedding-3-small",
    "claude-3-5-sonnet-20241022", "claude-sonnet-4-20250514", "anthropic/claude-3-haiku-20240307",
    "gemini-2.5-flash", "gemini-1.5-pro", "mistral-large-latest", "mistral-small-latest",
]  # fmt: skip


def price_for(project, model, at=None):
    return find_price(model_prices_for_pricing(project=project), model, at)


def refresh(*args) -> str:
    out = io.StringIO()
    call_command("model_prices_refresh", *args, stdout=out)
    return out.getvalue()


def test_the_shipped_file_is_valid_and_every_pattern_prices_only_its_own_model():
    rows = managed_price_rows()
    assert len(rows) >= 40
    assert {row["id"].split("-", 1)[0] for row in rows} == {"openai", "anthropic", "google", "mistral"}
    for row in rows:
        assert re.fullmatch(row["match_pattern"], row["model_name"]), row["id"]
    # Whole-name matches: gpt-4o's pattern does not take gpt-4o-mini.
    assert [row["id"] for row in rows if re.fullmatch(row["match_pattern"], "gpt-4o-mini")] == ["openai-gpt-4o-mini"]


@pytest.mark.django_db
@pytest.mark.parametrize("model", PROVIDER_MODELS)
def test_a_fresh_project_prices_the_common_models_of_each_provider(project, model):
    price = price_for(project, model)
    assert price is not None and price.managed
    assert (price.input_price or price.total_price) > 0


@pytest.mark.django_db
def test_the_price_in_effect_when_the_call_was_made_applies(project):
    before, after = datetime(2024, 6, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    assert price_for(project, "gpt-4o", before).input_price == Decimal("0.000005")
    assert price_for(project, "gpt-4o", after).input_price == Decimal("0.0000025")


@pytest.mark.django_db
def test_a_project_price_overrides_the_built_in_one_even_when_older(project):
    ModelPriceFactory(project=project, model_name="gpt-4o-mini", match_pattern="gpt-4o-mini", input_price="1", start_date=None)
    assert price_for(project, "gpt-4o-mini").input_price == Decimal("1")
    assert price_for(project, "gpt-4o").managed  # other models keep their built-in price
    # A project price that starts later leaves earlier calls to the built-in price.
    ModelPriceFactory(project=project, model_name="o3", match_pattern="o3", input_price="1", start_date=datetime(2026, 1, 1, tzinfo=UTC))
    assert price_for(project, "o3", datetime(2025, 7, 1, tzinfo=UTC)).input_price == Decimal("0.000002")
    assert price_for(project, "o3", datetime(2026, 2, 1, tzinfo=UTC)).input_price == Decimal("1")


@pytest.mark.django_db
def test_the_refresh_command_makes_the_table_equal_to_a_price_file(tmp_path):
    document = json.loads(DATA_FILE.read_text())
    refresh()
    assert ManagedModelPrice.objects.count() == len(document["prices"])
    changed = tmp_path / "prices.json"
    document["prices"] = [
        {**document["prices"][0], "inputPrice": 0.5},
        {"id": "acme-model", "modelName": "acme", "matchPattern": "acme", "startDate": "2026-01-01T00:00:00Z", "totalPrice": 1e-06},
    ]  # fmt: skip
    changed.write_text(json.dumps(document))
    removed = ManagedModelPrice.objects.count() - 1

    assert refresh("--file", str(changed)) == f"built-in model prices: 1 added, 1 updated, {removed} removed\n"
    assert set(ManagedModelPrice.objects.values_list("id", flat=True)) == {document["prices"][0]["id"], "acme-model"}
    assert ManagedModelPrice.objects.get(id=document["prices"][0]["id"]).input_price == Decimal("0.5")
    assert refresh("--file", str(changed)) == "built-in model prices: 0 added, 0 updated, 0 removed\n"

    changed.write_text(json.dumps({"prices": [{"id": "bad", "modelName": "x", "matchPattern": "(unclosed"}]}))
    with pytest.raises(CommandError, match="prices\\[0\\]"):
        refresh("--file", str(changed))
    assert ManagedModelPrice.objects.count() == 2  # a bad file changes nothing


@pytest.mark.django_db
def test_built_in_prices_are_listed_after_the_projects_and_cannot_be_changed_through_the_api(api, project):
    own = ModelPriceFactory(project=project)
    listed = api.get("models", limit=100).json()
    assert listed["data"][0]["id"] == own.id and listed["data"][0]["isLangfuseManaged"] is False
    managed = [model for model in listed["data"] if model["isLangfuseManaged"]]
    assert len(managed) == ManagedModelPrice.objects.count() == listed["meta"]["totalItems"] - 1
    one = api.get(f"models/{managed[0]['id']}").json()
    assert one == managed[0]
    assert api.delete(f"models/{managed[0]['id']}").status_code == 404
    assert ManagedModelPrice.objects.filter(id=managed[0]["id"]).exists()


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_sdk_generations_of_common_models_get_a_cost_without_any_price_entered(live_server, project):
    key = api_key_for(project, Role.MEMBER)
    with langfuse_client(live_server, key) as lf:
        for model in ("gpt-4o-mini", "claude-3-5-sonnet-20241022"):
            usage = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
            with lf.start_as_current_observation(name=model, as_type="generation", model=model, usage_details=usage):
                pass
        lf.flush()
        models = lf.api.models.list(limit=100).data
        managed = {model.model_name: model for model in models if model.is_langfuse_managed}

    costs = {o.name: o.cost_details for o in Observation.objects.filter(project=project)}
    assert costs["gpt-4o-mini"] == {"input": 0.00015, "output": 0.00006, "total": 0.00021}
    assert costs["claude-3-5-sonnet-20241022"] == {"input": 0.003, "output": 0.0015, "total": 0.0045}
    assert managed["gpt-4o-mini"].input_price == 1.5e-07
