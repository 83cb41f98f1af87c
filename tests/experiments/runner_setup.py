"""A project ready for platform runs: a dataset, a prompt, a connection to the fake LLM, a price."""

from dataclasses import dataclass
from decimal import Decimal

from datasets.models import Dataset
from datasets.services import NewItem, dataset_items_create_many, dataset_upsert
from evalsite.llm.connections import llm_connection_create
from evalsite.llm.prices import model_price_create
from evalsite.tenancy.actors import SYSTEM
from prompts.services import prompt_create

MODEL = "fake-model"
INPUT_PRICE = Decimal("0.000001")
OUTPUT_PRICE = Decimal("0.000002")


@dataclass
class RunnerSetup:
    dataset: Dataset
    prompt_name: str
    provider: str


def runner_setup(project, llm, *, items: int = 10, dataset_name: str = "qa/set") -> RunnerSetup:
    dataset = dataset_upsert(project=project, name=dataset_name, actor=SYSTEM)
    dataset_items_create_many(
        project=project,
        dataset=dataset,
        items=[
            NewItem(item_id=f"item-{i}", input={"question": f"question item-{i}"}, expected_output=f"answer {i}")
            for i in range(items)
        ],
        actor=SYSTEM,
    )
    prompt_create(
        project=project, name="qa/answer", content="Answer briefly: {{question}}", labels=["production"]
    )
    llm_connection_create(project=project, provider="fake", secret_key="sk-fake", base_url=llm.base_url,
                          custom_models=[MODEL])
    model_price_create(project=project, model_name=MODEL, match_pattern=MODEL, input_price=INPUT_PRICE,
                       output_price=OUTPUT_PRICE)
    return RunnerSetup(dataset=dataset, prompt_name="qa/answer", provider="fake")


def start_body(setup: RunnerSetup, **overrides) -> dict:
    return {
        "datasetName": setup.dataset.name,
        "runName": "run-1",
        "promptName": setup.prompt_name,
        "provider": setup.provider,
        "model": MODEL,
        "modelParameters": {"temperature": 0},
        "concurrency": 4,
        **overrides,
    }
