"""The prompt admin: versions by name, new versions, label editing through the services, diffs."""

import json

import pytest
from django.urls import reverse

from evalsite.tenancy.roles import Role
from prompts.models import Prompt
from prompts.selectors import prompt_versions
from tests.prompts.factories import chat_prompt, text_prompt
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


def admin_url(name, *args):
    return reverse(f"admin:prompts_prompt_{name}", args=args)


def labels(project, name):
    return {p.version: p.label_names() for p in prompt_versions(project=project, name=name)}


@pytest.fixture
def member(client, project):
    client.force_login(user_with_role(project, Role.MEMBER))
    return client


def test_changelist_lists_versions_with_labels_and_tags(member, project):
    text_prompt(project, name="support/greet", labels=["production"], tags=["cs"])
    text_prompt(project, name="support/greet")
    content = member.get(admin_url("changelist")).content.decode()
    assert content.count("support/greet") >= 2
    assert "latest" in content and "production" in content and "cs" in content


def test_adding_a_version_in_the_admin_goes_through_the_service(member, project):
    text_prompt(project, name="greet", labels=["production"])
    response = member.post(
        admin_url("add"),
        {"project": project.pk, "name": "greet", "type": "text", "content": "Hello {{who}}", "config": '{"model": "m"}',
         "labels": "production, staging", "tag_list": "", "commit_message": "second"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    new = Prompt.objects.get(project=project, name="greet", version=2)
    assert (new.prompt, new.config, new.commit_message, new.created_by) == (
        "Hello {{who}}",
        {"model": "m"},
        "second",
        new.created_by,
    )
    assert new.created_by  # the admin user's name
    assert labels(project, "greet") == {1: [], 2: ["latest", "production", "staging"]}


def test_adding_a_chat_version_needs_a_json_message_list(member, project):
    base = {
        "project": project.pk,
        "name": "c",
        "type": "chat",
        "config": "{}",
        "labels": "",
        "tag_list": "",
        "commit_message": "",
    }
    bad = member.post(admin_url("add"), {**base, "content": "not json"})
    assert bad.status_code == 200 and "JSON list of messages" in bad.content.decode()
    good = member.post(
        admin_url("add"), {**base, "content": json.dumps([{"role": "user", "content": "{{q}}"}])}
    )
    assert good.status_code == 302
    assert Prompt.objects.get(name="c").prompt == [{"role": "user", "content": "{{q}}"}]


def test_the_admin_refuses_a_type_change(member, project):
    text_prompt(project, name="t")
    response = member.post(
        admin_url("add"),
        {
            "project": project.pk,
            "name": "t",
            "type": "chat",
            "content": "[]",
            "config": "{}",
            "labels": "",
            "tag_list": "",
        },
    )
    assert response.status_code == 200
    assert "cannot change its type" in response.content.decode()
    assert Prompt.objects.filter(name="t").count() == 1


def test_editing_labels_on_the_change_page_moves_them_between_versions(member, project):
    old = text_prompt(project, name="p", labels=["production"])
    text_prompt(project, name="p")
    response = member.post(admin_url("change", old.pk), {"labels": "staging", "tag_list": "x, y"})
    assert response.status_code == 302
    assert labels(project, "p") == {1: ["staging"], 2: ["latest"]}
    assert list(Prompt.objects.values_list("tags", flat=True)) == [["x", "y"], ["x", "y"]]
    newest = Prompt.objects.get(name="p", version=2)
    member.post(admin_url("change", newest.pk), {"labels": "latest, staging", "tag_list": "x, y"})
    assert labels(project, "p") == {1: [], 2: ["latest", "staging"]}


def test_latest_cannot_be_removed_from_the_newest_version_in_the_admin(member, project):
    prompt = text_prompt(project, name="p")
    response = member.post(admin_url("change", prompt.pk), {"labels": "production", "tag_list": ""})
    assert response.status_code == 200
    assert "always on the newest version" in response.content.decode()
    assert labels(project, "p") == {1: ["latest"]}


def test_the_change_page_links_to_comparisons_and_the_diff_view_renders(member, project):
    old = text_prompt(project, name="d", content="line one\nline two", config={"temperature": 0})
    new = text_prompt(project, name="d", content="line one\nline 2 <b>", config={"temperature": 1})
    page = member.get(admin_url("change", new.pk)).content.decode()
    compare_url = admin_url("compare", new.pk, 1)
    assert compare_url in page and "compare with version 1" in page

    response = member.get(compare_url)
    assert response.status_code == 200
    html = response.content.decode().replace("&nbsp;", " ")  # difflib keeps spaces as &nbsp;
    assert '<span class="diff_sub">line two</span>' in html
    assert '<span class="diff_add">line 2 &lt;b&gt;</span>' in html  # the compared text is escaped
    assert '"temperature":' in html and "No differences" not in html  # the config changed too
    assert old.pk in html  # links to the other version


def test_a_chat_diff_shows_roles_and_placeholders(member, project):
    chat_prompt(project, name="c")
    second = chat_prompt(project, name="c", content=[{"role": "system", "content": "Changed"}])
    html = member.get(admin_url("compare", second.pk, 1)).content.decode().replace("&nbsp;", " ")
    assert "[placeholder: history]" in html and "[system]" in html and "Changed" in html


def test_comparing_with_a_missing_version_or_another_project_is_404(member, project, victim_project):
    mine = text_prompt(project, name="d")
    theirs = text_prompt(victim_project, name="d")
    text_prompt(victim_project, name="d")
    assert member.get(admin_url("compare", mine.pk, 5)).status_code == 404
    response = member.get(admin_url("compare", theirs.pk, 2))
    assert response.status_code in (302, 404)
    assert theirs.name not in response.content.decode() or response.status_code == 404


def test_a_viewer_can_read_versions_but_not_add_or_relabel(client, project):
    prompt = text_prompt(project, name="v", labels=["production"], tags=["team-v"])
    client.force_login(user_with_role(project, Role.VIEWER))
    assert client.get(admin_url("changelist")).status_code == 200
    page = client.get(admin_url("change", prompt.pk)).content.decode()
    assert "latest, production" in page and "team-v" in page and 'name="labels"' not in page
    assert client.get(admin_url("compare", prompt.pk, 1)).status_code == 200
    assert client.get(admin_url("add")).status_code == 403
    client.post(admin_url("change", prompt.pk), {"labels": "latest", "tag_list": ""})
    assert labels(project, "v") == {1: ["latest", "production"]}


def test_deleting_a_version_in_the_admin_moves_latest(member, project):
    text_prompt(project, name="del")
    newest = text_prompt(project, name="del")
    response = member.post(admin_url("delete", newest.pk), {"post": "yes"})
    assert response.status_code == 302
    assert labels(project, "del") == {1: ["latest"]}
