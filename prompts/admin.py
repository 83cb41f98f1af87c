"""Admin for prompt versions: list by name, add a version, edit labels and tags, compare versions.

A version's content is immutable once created (a change is a new version), so the change page
shows it read-only and only edits labels and tags, through the services that keep labels unique
per name and `latest` on the newest version.
"""

import difflib
import json

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import ValidationError
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin
from prompts import selectors, services
from prompts.models import Prompt, PromptType
from prompts.selectors import LATEST_LABEL


def split_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.replace("\n", ",").split(",") if item.strip()]


def content_lines(prompt: Prompt) -> list[str]:
    """The prompt as lines of text, for display and diffs: chat messages as a "[role]" line
    followed by their content, placeholders as one "[placeholder: name]" line."""
    if prompt.type == PromptType.TEXT:
        return prompt.prompt.splitlines()
    lines: list[str] = []
    for index, message in enumerate(prompt.prompt):
        if index:
            lines.append("")
        if message.get("type") == "placeholder":
            lines.append(f"[placeholder: {message['name']}]")
        else:
            lines.append(f"[{message['role']}]")
            lines += message["content"].splitlines()
    return lines


def config_lines(prompt: Prompt) -> list[str]:
    return json.dumps(prompt.config, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def diff_table(old: list[str], new: list[str], old_title: str, new_title: str) -> str:
    """A side-by-side HTML table (difflib escapes the text it shows)."""
    return difflib.HtmlDiff(wrapcolumn=90).make_table(old, new, old_title, new_title)


class PromptAdminForm(forms.ModelForm):
    content = forms.CharField(
        label="Prompt",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 100}),
        help_text='Text prompt: the text, with {{variables}}. Chat prompt: a JSON list of {"role": …, '
        '"content": …} messages and {"type": "placeholder", "name": …} placeholders.',
    )
    labels = forms.CharField(
        required=False,
        help_text=f"Comma-separated. A label marks one version of the name, so adding it here takes it "
        f"from the version that had it. '{LATEST_LABEL}' always marks the newest version; 'production' "
        "is what a fetch without a label or version returns.",
    )
    tag_list = forms.CharField(
        label="Tags",
        required=False,
        help_text="Comma-separated; shared by every version of this prompt. On a new version, blank keeps the current tags.",
    )

    class Meta:
        model = Prompt
        fields = ["project", "name", "type", "config", "commit_message"]

    @property
    def editing(self) -> bool:
        # Not `instance.pk`: the primary key has a default, so a new version has one before saving.
        return not self.instance._state.adding

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.editing:
            self.fields["labels"].initial = ", ".join(self.instance.label_names())
            self.fields["tag_list"].initial = ", ".join(self.instance.tags)

    def clean(self):
        cleaned = super().clean()
        self.cleaned_labels = self._check(
            "labels", services.validate_labels, split_list(cleaned.get("labels", ""))
        )
        raw_tags = split_list(cleaned.get("tag_list", ""))
        self.cleaned_tags = self._check("tag_list", services.validate_tags, raw_tags)
        if self.editing:
            self._check_latest_stays_on_newest()
        else:
            self._clean_new_version(cleaned)
        return cleaned

    def _check(self, field, validator, *args):
        try:
            return validator(*args)
        except ValidationError as error:
            self.add_error(field, error)
            return None

    def _check_latest_stays_on_newest(self):
        if self.cleaned_labels is None:
            return
        newest = max(
            selectors.prompt_version_numbers(project=self.instance.project, name=self.instance.name)
        )
        if (LATEST_LABEL in self.cleaned_labels) != (self.instance.version == newest):
            self.add_error(
                "labels", f"'{LATEST_LABEL}' is always on the newest version (v{newest}) and only there."
            )

    def _clean_new_version(self, cleaned):
        name = self._check("name", services.validate_prompt_name, cleaned.get("name"))
        prompt_type = cleaned.get("type")
        raw = cleaned.get("content", "")
        self.cleaned_content = None
        if prompt_type == PromptType.CHAT:
            try:
                raw = json.loads(raw)
            except ValueError:
                self.add_error("content", "A chat prompt is a JSON list of messages.")
                return
        if prompt_type:
            self.cleaned_content = self._check(
                "content", services.validate_prompt_content, prompt_type, raw
            )
        project = cleaned.get("project")
        if name and project and prompt_type:
            earlier = (
                Prompt.objects.filter(project=project, name=name)
                .order_by("-version")
                .values_list("type", flat=True)
                .first()
            )
            if earlier and earlier != prompt_type:
                self.add_error(
                    "type", f"{name!r} is a {earlier} prompt: a new version cannot change its type."
                )


@admin.register(Prompt)
class PromptAdmin(ProjectScopedAdmin):
    form = PromptAdminForm
    list_display = ["name", "version", "type", "labels_display", "tags_display", "updated_at"]
    list_display_links = ["name", "version"]
    list_filter = ["type"]
    search_fields = ["name"]
    ordering = ["name", "-version"]  # versions of one name stay together, newest first
    list_select_related = ["project"]
    readonly_fields = [
        "project", "name", "version", "type", "content_display", "config_display", "commit_message",
        "created_by", "created_at", "updated_at", "compare_links",
    ]  # fmt: skip

    def scoped_queryset(self, request, queryset):
        return queryset.prefetch_related("label_rows")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["project", "name", "type", "content", "config", "labels", "tag_list", "commit_message"]
        # Viewers get the page read-only: show the labels and tags, not the form fields that edit them.
        editable = (
            ["labels", "tag_list"]
            if self.has_change_permission(request, obj)
            else ["labels_display", "tags_display"]
        )
        return [
            "project", "name", "version", "type", "content_display", "config_display", *editable,
            "commit_message", "compare_links", "created_by", "created_at", "updated_at",
        ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "labels_display", "tags_display"] if obj else []

    @admin.display(description="Labels")
    def labels_display(self, obj):
        return ", ".join(obj.label_names())

    @admin.display(description="Tags")
    def tags_display(self, obj):
        return ", ".join(obj.tags)

    @admin.display(description="Prompt")
    def content_display(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", "\n".join(content_lines(obj)))

    @admin.display(description="Config")
    def config_display(self, obj):
        return format_html("<pre>{}</pre>", "\n".join(config_lines(obj)))

    @admin.display(description="Compare")
    def compare_links(self, obj):
        others = [
            v
            for v in selectors.prompt_version_numbers(project=obj.project, name=obj.name)
            if v != obj.version
        ]
        if not others:
            return "This is the only version."
        links = format_html_join(
            " · ",
            '<a href="{}">compare with version {}</a>',
            (
                (reverse("admin:prompts_prompt_compare", args=[quote(obj.pk), version]), version)
                for version in others
            ),
        )
        return links

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        actor = Actor(user=request.user)
        if change:
            services.prompt_labels_set(prompt=obj, labels=form.cleaned_labels, actor=actor)
            if form.cleaned_tags != obj.tags:
                services.prompt_tags_set(
                    project=obj.project, name=obj.name, tags=form.cleaned_tags, actor=actor
                )
            return
        created = services.prompt_create(
            project=obj.project,
            name=obj.name,
            content=form.cleaned_content,
            prompt_type=obj.type,
            config=form.cleaned_data.get("config"),
            labels=form.cleaned_labels,
            tags=form.cleaned_tags or None,
            commit_message=obj.commit_message or None,
            actor=actor,
        )
        obj.pk, obj.version = created.pk, created.version

    def delete_model(self, request, obj):
        services.prompt_delete(
            project=obj.project, name=obj.name, version=obj.version, actor=Actor(user=request.user)
        )

    def delete_queryset(self, request, queryset):
        for prompt in queryset.select_related("project__organization"):
            self.delete_model(request, prompt)

    def get_urls(self):
        compare = path(
            "<path:object_id>/compare/<int:other_version>/",
            self.admin_site.admin_view(self.compare_view),
            name="prompts_prompt_compare",
        )
        return [compare, *super().get_urls()]

    def compare_view(self, request, object_id, other_version):
        prompt = self.get_object(request, unquote(object_id))
        if prompt is None or not self.has_view_permission(request, prompt):
            raise Http404("Prompt not found")
        try:
            other = selectors.prompt_get(
                project=prompt.project, name=prompt.name, version=other_version
            )
        except Prompt.DoesNotExist:
            raise Http404(f"{prompt.name!r} has no version {other_version}") from None
        old, new = sorted([prompt, other], key=lambda version: version.version)
        titles = (f"version {old.version}", f"version {new.version}")
        sections = [
            ("Prompt", content_lines(old), content_lines(new)),
            ("Config", config_lines(old), config_lines(new)),
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"{prompt.name}: version {old.version} → version {new.version}",
            "opts": self.model._meta,
            "prompt": prompt,
            "old": old,
            "new": new,
            # HtmlDiff escapes the compared text, and the titles are ours: the table is safe HTML.
            "sections": [
                {"title": title, "same": a == b, "table": mark_safe(diff_table(a, b, *titles))}
                for title, a, b in sections
            ],
            "labels": {
                "old": old.label_names(),
                "new": new.label_names(),
            },
        }
        return TemplateResponse(request, "prompts/compare.html", context)
