from prompts.models import Prompt
from tests.prompts.factories import text_prompt

FACTORIES = {
    Prompt: lambda project: text_prompt(project, labels=["production"]),
}
