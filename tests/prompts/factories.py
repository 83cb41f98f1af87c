"""Prompt versions for tests, made through the service so labels and versions follow the rules."""

from prompts.models import PromptType
from prompts.services import prompt_create

CHAT = [
    {"role": "system", "content": "You are {{persona}}."},
    {"type": "placeholder", "name": "history"},
    {"role": "user", "content": "{{question}}"},
]


def text_prompt(project, name="folder/greeting", content="Hello {{name}}!", **options):
    return prompt_create(project=project, name=name, content=content, prompt_type=PromptType.TEXT, **options)


def chat_prompt(project, name="folder/chat", content=None, **options):
    return prompt_create(
        project=project,
        name=name,
        content=CHAT if content is None else content,
        prompt_type=PromptType.CHAT,
        **options,
    )
