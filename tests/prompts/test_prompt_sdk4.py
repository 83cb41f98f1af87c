"""The langfuse 4.x SDK reads a generation's prompt link back through the legacy trace read."""

import pytest

from prompts.models import Prompt
from tests.prompts.factories import text_prompt
from tests.support.sdk4 import run_sdk4
from tests.tenancy.factories import api_key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def test_a_4x_generation_linked_to_a_prompt_reads_back_with_the_prompt_versions_id(live_server, project):
    text_prompt(project, name="linked/p", labels=["production"])
    result = run_sdk4(
        live_server,
        api_key_for(project),
        """
        import time
        prompt = lf.get_prompt("linked/p", cache_ttl_seconds=0)
        with lf.start_as_current_observation(name="call", as_type="generation", prompt=prompt) as generation:
            generation.update(output="done")
        lf.flush()
        for _ in range(50):
            observations = lf.api.trace.get(generation.trace_id).observations
            if observations:
                break
            time.sleep(0.1)
        result = [[o.prompt_name, o.prompt_version, o.prompt_id] for o in observations]
        """,
    )
    assert result == [["linked/p", 1, Prompt.objects.get(project=project, name="linked/p").id]]
