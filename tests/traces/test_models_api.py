"""/api/public/models: model prices, and their use by cost inference."""

import pytest

from evalsite.llm.models import ModelPrice
from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from tests.ingestion.spans import protobuf_body, sdk_trace
from tests.traces.factories import ModelPriceFactory
from traces.models import Observation

pytestmark = pytest.mark.django_db

BODY = {
    "modelName": "gpt-test",
    "matchPattern": "(?i)^(openai/)?gpt-test$",
    "startDate": None,
    "unit": "TOKENS",
    "inputPrice": 0.001,
    "outputPrice": 0.002,
    "totalPrice": None,
    "pricingTiers": None,
    "tokenizerId": None,
    "tokenizerConfig": None,
}


def test_a_model_price_is_created_read_listed_and_deleted(api, project):
    created = api.post("models", BODY)
    assert created.status_code == 201, created.content
    model = created.json()
    assert model["modelName"] == "gpt-test" and model["matchPattern"] == BODY["matchPattern"]
    assert model["prices"] == {"input": {"price": 0.001}, "output": {"price": 0.002}}
    assert model["isLangfuseManaged"] is False and model["pricingTiers"] == [] and model["tokenizerConfig"] is None
    assert api.get(f"models/{model['id']}").json()["inputPrice"] == 0.001
    listing = api.get("models", limit=100).json()
    # The project's own prices come first; the built-in ones (isLangfuseManaged) follow.
    assert [m["id"] for m in listing["data"] if not m["isLangfuseManaged"]] == [model["id"]]
    assert listing["data"][0]["id"] == model["id"]
    assert api.delete(f"models/{model['id']}").status_code == 204
    assert not ModelPrice.objects.filter(project=project).exists()
    assert set(AuditLog.objects.filter(project=project).values_list("action", flat=True)) >= {
        "model_price.create",
        "model_price.delete",
    }


def test_a_model_price_is_replaced_with_put(api, project):
    price = ModelPriceFactory(project=project)
    response = api.put(f"models/{price.id}", {**BODY, "inputPrice": None, "outputPrice": None, "totalPrice": 0.5})
    assert response.status_code == 200
    price.refresh_from_db()
    assert (price.model_name, price.input_price, price.total_price) == ("gpt-test", None, 0.5)


@pytest.mark.parametrize(
    "change,field",
    [
        ({"matchPattern": "(unclosed"}, "matchPattern"),
        ({"unit": "LITRES"}, "unit"),
        ({"inputPrice": -1}, "inputPrice"),
        ({"totalPrice": 1}, "totalPrice"),
        ({"modelName": None}, "modelName"),
        ({"pricingTiers": [{"name": "t", "isDefault": True, "priority": 0, "conditions": [], "prices": {"input": 1}}]}, "pricingTiers"),
    ],
)
def test_invalid_model_prices_are_refused_naming_the_field(api, project, change, field):
    response = api.post("models", {**BODY, **change})
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert not ModelPrice.objects.filter(project=project).exists()


def test_only_members_write_model_prices(api_by_role, project):
    assert api_by_role[Role.VIEWER].post("models", BODY).status_code == 403
    assert api_by_role[Role.VIEWER].get("models").status_code == 200
    assert api_by_role[Role.MEMBER].post("models", BODY).status_code == 201


def test_a_price_created_through_the_api_prices_ingested_generations(api, project):
    api.post("models", BODY)
    api.post("otel/v1/traces", protobuf_body(sdk_trace()), content_type="application/x-protobuf")
    generation = Observation.objects.get(project=project, type="GENERATION")
    assert generation.cost_details == {"input": 0.1, "output": 0.1, "total": 0.2}


def test_model_list_queries_do_not_depend_on_the_page_size(api, project, django_assert_num_queries):
    for _ in range(12):
        ModelPriceFactory(project=project)
    api.get("models", limit=1)
    with django_assert_num_queries(3):
        assert len(api.get("models", limit=2).json()["data"]) == 2
    with django_assert_num_queries(3):
        assert len(api.get("models", limit=12).json()["data"]) == 12
