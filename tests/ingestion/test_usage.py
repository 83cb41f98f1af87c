"""Usage in the shapes clients send, onto Langfuse's usage keys (ingestion/usage.py)."""

import pytest

from ingestion.usage import normalised_usage


@pytest.mark.parametrize(
    "provided,expected",
    [
        (
            {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
            {"input": 10, "output": 20, "total": 30},
        ),
        (
            {
                "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
                "prompt_tokens_details": {"cached_tokens": 40, "audio_tokens": None},
                "completion_tokens_details": {"reasoning_tokens": 30, "audio_tokens": 0},
            },
            {
                "input": 60, "input_cached_tokens": 40, "output": 20, "output_reasoning_tokens": 30,
                "output_audio_tokens": 0, "total": 150,
            },
        ),
        (
            {"input_tokens": 18, "output_tokens": 4, "input_tokens_details": {"cached_tokens": 10}},
            {"input": 8, "input_cached_tokens": 10, "output": 4, "total": 22},
        ),
        ({"prompt_tokens": 3, "completion_tokens": 4}, {"input": 3, "output": 4, "total": 7}),
        # Not an OpenAI shape (a key of its own): the keys stay, the total is the sum.
        ({"prompt_tokens": 3, "completion_tokens": 4, "images": 1}, {"prompt_tokens": 3, "completion_tokens": 4, "images": 1, "total": 8}),
        ({"input": 5, "output": "6", "cost": 0.5, "flag": True, "n": -1}, {"input": 5, "output": 6, "total": 11}),
        ({"input": 5, "total": 9}, {"input": 5, "total": 9}),
        ({"note": "none"}, {}),
    ],
)  # fmt: skip
def test_usage_is_normalised_as_langfuse_does(provided, expected):
    assert normalised_usage(provided) == expected
