"""The pure score and score-config rules (no database)."""

from datetime import UTC, datetime

import pytest

from scoring.validation import ConfigRule, score_config_validate, score_validate

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NUMERIC = ConfigRule(id="cfg-num", name="accuracy", data_type="NUMERIC", min_value=0.0, max_value=1.0)
CATEGORICAL = ConfigRule(
    id="cfg-cat", name="tone", data_type="CATEGORICAL", categories=(("good", 1.0), ("bad", 0.0))
)
BOOLEAN = ConfigRule(id="cfg-bool", name="correct", data_type="BOOLEAN", categories=(("True", 1.0), ("False", 0.0)))
ARCHIVED = ConfigRule(id="cfg-old", name="accuracy", data_type="NUMERIC", is_archived=True)
CONFIGS = {c.id: c for c in (NUMERIC, CATEGORICAL, BOOLEAN, ARCHIVED)}


def validate(**fields):
    item = {"name": "accuracy", "value": 0.5, "traceId": "t" * 32, **fields}
    item = {k: v for k, v in item.items() if v is not ...}
    return score_validate(item, configs=CONFIGS, now=NOW)


def fields_of(errors) -> set[str]:
    return {error.field for error in errors}


def test_a_minimal_numeric_score_is_normalised_with_defaults():
    row, errors = validate()
    assert errors == []
    assert row["data_type"] == "NUMERIC" and row["value"] == 0.5 and row["string_value"] is None
    assert row["environment"] == "default" and row["source"] == "API" and row["timestamp"] == NOW
    assert len(row["score_id"]) == 32 and int(row["score_id"], 16) >= 0
    assert row["trace_id"] == "t" * 32 and row["observation_id"] is None and row["config_id"] is None


def test_name_is_required():
    assert fields_of(validate(name=...)[1]) == {"name"}
    assert fields_of(validate(name="  ")[1]) == {"name"}
    assert fields_of(validate(name=7)[1]) == {"name"}


def test_value_is_required():
    _, errors = validate(value=...)
    assert fields_of(errors) == {"value"}


@pytest.mark.parametrize("value", [[1], {"a": 1}])
def test_value_must_be_a_number_or_a_string(value):
    assert fields_of(validate(value=value)[1]) == {"value"}


def test_data_type_is_inferred_numeric_from_a_number_and_categorical_from_a_string():
    assert validate(value=3)[0]["data_type"] == "NUMERIC"
    row, _ = validate(value="good")
    assert row["data_type"] == "CATEGORICAL" and row["string_value"] == "good" and row["value"] is None


def test_an_unknown_data_type_is_refused():
    assert fields_of(validate(dataType="PERCENT")[1]) == {"dataType"}


def test_numeric_scores_need_a_finite_number():
    assert fields_of(validate(dataType="NUMERIC", value="0.5")[1]) == {"value"}
    assert fields_of(validate(dataType="NUMERIC", value=float("inf"))[1]) == {"value"}
    assert fields_of(validate(dataType="NUMERIC", value=True)[1]) == {"value"}


@pytest.mark.parametrize(
    "value,number,label", [(1, 1.0, "True"), (0, 0.0, "False"), (1.0, 1.0, "True"), (True, 1.0, "True"), (False, 0.0, "False")]
)
def test_boolean_values_are_stored_as_one_or_zero_with_a_true_false_label(value, number, label):
    row, errors = validate(dataType="BOOLEAN", value=value)
    assert errors == []
    assert (row["value"], row["string_value"]) == (number, label)


@pytest.mark.parametrize("value", [2, 0.5, "yes", "True"])
def test_boolean_values_other_than_one_and_zero_are_refused(value):
    assert fields_of(validate(dataType="BOOLEAN", value=value)[1]) == {"value"}


def test_text_scores_take_1_to_500_characters():
    row, errors = validate(dataType="TEXT", value="x" * 500)
    assert errors == [] and row["string_value"] == "x" * 500 and row["value"] is None
    assert fields_of(validate(dataType="TEXT", value="x" * 501)[1]) == {"value"}
    assert fields_of(validate(dataType="TEXT", value="")[1]) == {"value"}
    assert fields_of(validate(dataType="TEXT", value=3)[1]) == {"value"}


def test_categorical_without_config_keeps_the_label_as_string_value():
    row, errors = validate(dataType="CATEGORICAL", value="neutral")
    assert errors == [] and row["string_value"] == "neutral" and row["value"] is None
    assert fields_of(validate(dataType="CATEGORICAL", value=1)[1]) == {"value"}


def test_corrections_apply_to_traces_and_observations_but_not_sessions_or_runs():
    row, errors = validate(dataType="CORRECTION", value="the right answer", observationId="o" * 16)
    assert errors == [] and row["string_value"] == "the right answer"
    assert fields_of(validate(dataType="CORRECTION", value="x", traceId=..., sessionId="s1")[1]) == {"sessionId"}
    assert fields_of(validate(dataType="CORRECTION", value="x", traceId=..., datasetRunId="r1")[1]) == {"datasetRunId"}


def test_an_observation_needs_its_trace():
    assert fields_of(validate(traceId=..., sessionId="s1", observationId="o" * 16)[1]) == {"observationId"}


def test_a_score_needs_a_trace_a_session_or_a_run():
    assert fields_of(validate(traceId=...)[1]) == {"traceId"}
    assert validate(traceId=..., sessionId="s1")[1] == []
    assert validate(traceId=..., datasetRunId="run-1")[1] == []


@pytest.mark.parametrize("environment", ["production", "staging-2", "dev_eu", "a" * 40])
def test_valid_environments_are_kept(environment):
    assert validate(environment=environment)[0]["environment"] == environment


@pytest.mark.parametrize("environment", ["Production", "langfuse-internal", "a b", "", "a" * 41, 3])
def test_invalid_environments_are_refused(environment):
    assert fields_of(validate(environment=environment)[1]) == {"environment"}


def test_timestamps_are_parsed_with_offsets_and_naive_ones_are_utc():
    assert validate(timestamp="2025-01-31T10:00:00.5Z")[0]["timestamp"] == datetime(2025, 1, 31, 10, 0, 0, 500000, tzinfo=UTC)
    assert validate(timestamp="2025-01-31T10:00:00")[0]["timestamp"] == datetime(2025, 1, 31, 10, tzinfo=UTC)
    assert fields_of(validate(timestamp="yesterday")[1]) == {"timestamp"}
    assert fields_of(validate(timestamp=1700000000)[1]) == {"timestamp"}


def test_ids_are_kept_up_to_128_characters_and_refused_beyond():
    assert validate(id="a1b2c3d4e5f60718")[0]["score_id"] == "a1b2c3d4e5f60718"
    assert validate(id="x" * 128)[0]["score_id"] == "x" * 128
    assert fields_of(validate(id="x" * 129)[1]) == {"id"}
    assert fields_of(validate(id="")[1]) == {"id"}
    assert fields_of(validate(id=12)[1]) == {"id"}


def test_null_optional_fields_count_as_not_provided():
    row, errors = validate(
        id="s1", comment=None, metadata=None, environment=None, timestamp=None, dataType=None, configId=None,
        observationId=None, sessionId=None, source=None, queueId=None,
    )
    assert errors == [] and row["environment"] == "default" and row["timestamp"] == NOW


def test_source_is_api_or_annotation_and_annotation_needs_a_config():
    assert fields_of(validate(source="EVAL")[1]) == {"source"}
    assert fields_of(validate(source="ANNOTATION")[1]) == {"configId"}
    assert validate(source="ANNOTATION", configId="cfg-num")[0]["source"] == "ANNOTATION"
    assert validate(source="ANNOTATION", dataType="CORRECTION", value="fixed")[1] == []


def test_a_source_override_replaces_what_the_item_says():
    row, errors = score_validate(
        {"name": "judge", "value": 1, "traceId": "t1", "source": "API"}, configs={}, now=NOW, source_override="EVAL"
    )
    assert errors == [] and row["source"] == "EVAL"


def test_an_unknown_config_is_refused():
    assert fields_of(validate(configId="missing")[1]) == {"configId"}


def test_an_archived_config_is_refused():
    _, errors = validate(configId="cfg-old")
    assert fields_of(errors) == {"configId"} and "archived" in errors[0]


def test_the_data_type_must_match_the_config():
    assert fields_of(validate(configId="cfg-num", dataType="CATEGORICAL", value="x")[1]) == {"dataType"}


def test_the_data_type_comes_from_the_config_when_absent():
    row, errors = validate(name="correct", configId="cfg-bool", value=1)
    assert errors == [] and row["data_type"] == "BOOLEAN" and row["string_value"] == "True"


def test_the_name_must_match_the_config():
    assert fields_of(validate(name="other", configId="cfg-num")[1]) == {"name"}


@pytest.mark.parametrize("value", [-0.1, 1.01])
def test_numeric_values_outside_the_config_range_are_refused(value):
    _, errors = validate(configId="cfg-num", value=value)
    assert fields_of(errors) == {"value"}


@pytest.mark.parametrize("value", [0, 1, 0.25])
def test_numeric_values_inside_the_config_range_are_kept(value):
    assert validate(configId="cfg-num", value=value)[0]["value"] == value


def test_a_category_label_is_mapped_to_its_value():
    row, errors = validate(name="tone", configId="cfg-cat", value="good")
    assert errors == [] and (row["value"], row["string_value"], row["data_type"]) == (1.0, "good", "CATEGORICAL")
    assert row["config_id"] == "cfg-cat"


def test_a_label_not_in_the_config_is_refused():
    _, errors = validate(name="tone", configId="cfg-cat", value="meh")
    assert fields_of(errors) == {"value"} and "'good'" in errors[0]


def test_a_boolean_config_takes_one_or_zero():
    assert fields_of(validate(name="correct", configId="cfg-bool", value=3)[1]) == {"value"}


def test_a_non_object_item_is_refused():
    _, errors = score_validate(["name", 1], configs={}, now=NOW)
    assert fields_of(errors) == {"body"}


def test_every_problem_of_an_item_is_reported():
    _, errors = score_validate({"value": 1, "environment": "BAD", "timestamp": "no"}, configs={}, now=NOW)
    assert fields_of(errors) == {"name", "traceId", "environment", "timestamp"}
    assert all(str(e).startswith(f"{e.field}: ") for e in errors)


# Score configs


def config(**fields):
    return score_config_validate(**{"name": "quality", "data_type": "NUMERIC", **fields})


@pytest.mark.parametrize("name", ["quality", "Helpful (v2)", "a.b_c-d e", "x" * 35])
def test_config_names_of_letters_digits_and_some_punctuation_are_accepted(name):
    assert config(name=name)[1] == []


@pytest.mark.parametrize("name", ["x" * 36, "bad/name", "emoji🙂", "", "   ", "a:b"])
def test_config_names_breaking_the_rules_are_refused(name):
    assert fields_of(config(name=name)[1]) == {"name"}


def test_numeric_config_bounds_must_be_ordered():
    assert config(min_value=0, max_value=1)[0]["max_value"] == 1.0
    assert config(min_value=1, max_value=1)[1] == []
    assert fields_of(config(min_value=2, max_value=1)[1]) == {"minValue"}


def test_bounds_apply_to_numeric_configs_only():
    assert fields_of(config(data_type="TEXT", min_value=0)[1]) == {"minValue"}


def test_categories_apply_to_categorical_configs_only():
    assert fields_of(config(categories=[{"value": 1, "label": "a"}])[1]) == {"categories"}
    assert fields_of(config(data_type="BOOLEAN", categories=[{"value": 1, "label": "yes"}])[1]) == {"categories"}


def test_boolean_configs_get_true_and_false_categories():
    fields, errors = config(data_type="BOOLEAN")
    assert errors == [] and fields["categories"] == [{"value": 1.0, "label": "True"}, {"value": 0.0, "label": "False"}]


def test_categorical_configs_need_unique_labels_and_values():
    fields, errors = config(data_type="CATEGORICAL", categories=[{"value": 1, "label": "a"}, {"value": 0, "label": "b"}])
    assert errors == [] and fields["categories"] == [{"value": 1.0, "label": "a"}, {"value": 0.0, "label": "b"}]
    assert fields_of(config(data_type="CATEGORICAL", categories=[])[1]) == {"categories"}
    dup_label = config(data_type="CATEGORICAL", categories=[{"value": 1, "label": "a"}, {"value": 0, "label": "a"}])
    assert fields_of(dup_label[1]) == {"categories[1].label"}
    dup_value = config(data_type="CATEGORICAL", categories=[{"value": 1, "label": "a"}, {"value": 1, "label": "b"}])
    assert fields_of(dup_value[1]) == {"categories[1].value"}


def test_configs_cannot_be_of_the_correction_type():
    assert fields_of(config(data_type="CORRECTION")[1]) == {"dataType"}
