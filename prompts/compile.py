"""Filling a prompt version's ``{{variables}}`` and chat placeholders (no Django, no database).

The rules follow the langfuse SDK's ``compile()``, so a prompt compiles the same on our workers as
in a user's application:

* ``{{ name }}`` is replaced by the variable ``name`` (spaces inside the braces are ignored).
* A variable that is not given is left as is, braces included. This is deliberate: text that looks
  like a variable may be meant literally (a prompt that explains templating), and a leftover
  ``{{x}}`` in the output is easy to spot, whereas silently erasing it is not.
* ``None`` becomes "". Strings are inserted as they are. Other values (numbers, booleans, lists,
  objects from a dataset item's input) are inserted as JSON, which is what a model reads best; the
  SDK would insert Python's ``str()`` instead (``True``, ``{'a': 1}``).
* Chat prompts: every message's content is filled. A placeholder ``{"type": "placeholder", "name":
  n}`` is replaced by the messages in the variable ``n``, which must be a list of ``{role, content}``
  objects (other keys, such as tool calls, are kept); their contents are filled too.
* Unlike a variable, a placeholder cannot be left in place, because no model accepts it as a
  message: a missing or malformed placeholder value raises ``PromptCompileError``.
"""

import json
from collections.abc import Mapping
from typing import Any

OPENING, CLOSING = "{{", "}}"


class PromptCompileError(ValueError):
    """The variables cannot fill the prompt (a chat placeholder without a usable message list)."""


def template_variables(text: str) -> list[str]:
    """The variable names in ``text``, in order of appearance, with repeats."""
    return [name for name, _start, _end in _variables(text)]


def fill_template(text: str, variables: Mapping[str, Any]) -> str:
    parts, position = [], 0
    for name, start, end in _variables(text):
        parts.append(text[position:start])
        parts.append(_as_text(variables[name]) if name in variables else text[start:end])
        position = end
    parts.append(text[position:])
    return "".join(parts)


def compile_content(prompt_type: str, content: Any, variables: Mapping[str, Any]) -> str | list[dict]:
    """Fill a text prompt (a string) or a chat prompt (a list of messages and placeholders)."""
    if prompt_type == "text":
        return fill_template(content, variables)
    compiled: list[dict] = []
    for message in content:
        if message.get("type") == "placeholder":
            compiled += _placeholder_messages(message["name"], variables)
        else:
            compiled.append(
                {"role": message["role"], "content": fill_template(message["content"], variables)}
            )
    return compiled


def prompt_compile(prompt, variables: Mapping[str, Any]) -> str | list[dict]:
    """A prompt version (``prompts.models.Prompt``) filled with ``variables``: a string for a
    text prompt, a list of ``{role, content, …}`` messages for a chat prompt."""
    return compile_content(prompt.type, prompt.prompt, variables)


def _variables(text: str):
    """(name, start, end) of each ``{{…}}``; an opening without a closing ends the scan."""
    position = 0
    while True:
        start = text.find(OPENING, position)
        if start == -1:
            return
        close = text.find(CLOSING, start + len(OPENING))
        if close == -1:
            return
        end = close + len(CLOSING)
        yield text[start + len(OPENING) : close].strip(), start, end
        position = end


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _placeholder_messages(name: str, variables: Mapping[str, Any]) -> list[dict]:
    if name not in variables:
        raise PromptCompileError(
            f"The chat placeholder {name!r} needs a variable {name!r} holding a list of messages."
        )
    value = variables[name]
    if not isinstance(value, list):
        raise PromptCompileError(
            f"The chat placeholder {name!r} must be filled with a list of messages, got {type(value).__name__}."
        )
    messages = []
    for index, message in enumerate(value):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise PromptCompileError(
                f"Message {index} for the chat placeholder {name!r} must be an object with a 'role' and a 'content'."
            )
        filled = dict(message)
        if isinstance(message.get("content"), str):
            filled["content"] = fill_template(message["content"], variables)
        messages.append(filled)
    return messages
