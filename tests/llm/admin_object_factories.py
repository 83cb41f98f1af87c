from evalsite.llm.connections import llm_connection_create
from evalsite.llm.models import LlmConnection


def make_connection(project, provider="openai-compatible", secret_key="sk-test-0123456789abcdef", **options):
    return llm_connection_create(project=project, provider=provider, secret_key=secret_key, **options)


FACTORIES = {
    LlmConnection: lambda project: make_connection(project),
}
