"""`{{variable}}` substitution: the same results as the SDK's compile(), plus our documented choices."""

import pytest
from langfuse.api import Prompt_Chat, Prompt_Text
from langfuse.model import ChatPromptClient, TextPromptClient

from prompts.compile import PromptCompileError, compile_content, prompt_compile, template_variables
from prompts.models import Prompt


def text(content):
    return Prompt(name="t", version=1, type="text", prompt=content)


def chat(messages):
    return Prompt(name="c", version=1, type="chat", prompt=messages)


def sdk_text(content):
    return TextPromptClient(
        Prompt_Text(name="t", version=1, prompt=content, config={}, labels=[], tags=[], type="text")
    )


def sdk_chat(messages):
    return ChatPromptClient(
        Prompt_Chat(name="c", version=1, prompt=messages, config={}, labels=[], tags=[], type="chat")
    )


@pytest.mark.parametrize(
    "content,variables",
    [
        ("Hello {{name}}!", {"name": "Ada"}),
        ("{{ a }}{{b}} and {{a}}", {"a": "1", "b": "2"}),
        ("unknown {{missing}} stays", {"other": "x"}),
        ("none {{x}} empty", {"x": None}),
        ("unclosed {{x and {{y}}", {"x": "X", "y": "Y"}),
        ("no variables at all", {}),
        ("number {{n}}", {"n": 3}),
    ],
)
def test_text_compiles_like_the_sdk(content, variables):
    assert prompt_compile(text(content), variables) == sdk_text(content).compile(**variables)


def test_chat_with_placeholder_compiles_like_the_sdk():
    messages = [
        {"role": "system", "content": "Be {{tone}}."},
        {"type": "placeholder", "name": "history"},
        {"role": "user", "content": "{{q}} {{unknown}}"},
    ]
    variables = {
        "tone": "brief",
        "q": "Why?",
        "history": [
            {"role": "user", "content": "{{tone}}?"},
            {"role": "assistant", "content": "x", "name": "bot"},
        ],
    }
    assert prompt_compile(chat(messages), variables) == sdk_chat(messages).compile(**variables)


def test_non_string_values_are_inserted_as_json():
    variables = {"obj": {"a": "é"}, "flag": True, "items": [1, 2]}
    assert prompt_compile(text("{{obj}} {{flag}} {{items}}"), variables) == '{"a": "é"} true [1, 2]'


@pytest.mark.parametrize("value", [None, "not a list", [{"content": "no role"}], ["plain string"]])
def test_a_placeholder_without_a_message_list_is_an_error(value):
    variables = {} if value is None else {"history": value}
    with pytest.raises(PromptCompileError, match="history"):
        compile_content("chat", [{"type": "placeholder", "name": "history"}], variables)


def test_template_variables_lists_names_in_order():
    assert template_variables("{{a}} {{ b }} {{a}} {{ unclosed") == ["a", "b", "a"]
