from prompts.models import Prompt
from tests.prompts.factories import text_prompt
from tests.support.cross_project import CrossProjectCase


def make_prompt_by_name(project):
    return {"prompt_name": text_prompt(project, name="shared/name", labels=["production"]).name}


def make_prompt_version(project):
    prompt = text_prompt(project, name="shared/name", labels=["production"])
    return {"name": prompt.name, "version": prompt.version}


def prompt_still_there(project, kwargs):
    name = kwargs.get("prompt_name") or kwargs["name"]
    return Prompt.objects.filter(project=project, name=name, label_rows__label="production").exists()


CASES = [
    CrossProjectCase(
        pattern="api/public/v2/prompts/<path:prompt_name>",
        make=make_prompt_by_name,
        still_there=prompt_still_there,
    ),
    CrossProjectCase(
        pattern="api/public/v2/prompts/<path:name>/versions/<int:version>",
        make=make_prompt_version,
        body={"newLabels": ["staging"]},
        still_there=lambda project, kwargs: (
            prompt_still_there(project, kwargs)
            and not Prompt.objects.filter(project=project, label_rows__label="staging").exists()
        ),
    ),
]
