"""Admin for LLM connections (ADMINs only, the secret never rendered) and model prices; writes go
through the services."""

import json
import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from evalsite.llm import connections, prices
from evalsite.llm.client import check_connection
from evalsite.llm.crypto import DecryptionError
from evalsite.llm.models import LlmConnection, ModelPrice
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin
from evalsite.tenancy.roles import Role

# An admin request waits for the call, so the check gives up sooner than a run would.
CHECK_TIMEOUT_SECONDS = 15.0


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value back, not even the one just submitted: header values
    are secrets like the key (the form re-renders submitted data when another field has an error)."""

    def format_value(self, value):
        return None


class LlmConnectionForm(forms.ModelForm):
    # Form-only fields: the secret and header values are write-only, and the base URL and model
    # list get our own validation (Django's URLValidator refuses service names like http://vllm:8000).
    url = forms.CharField(
        label="Base URL",
        required=False,
        help_text=f"OpenAI-compatible endpoint, e.g. http://localhost:11434/v1. Blank: {connections.DEFAULT_BASE_URL}",
    )
    secret_key = forms.CharField(
        label="Secret key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. On an existing connection, leave blank to keep the "
        "current key; changing the base URL or the extra headers needs it entered again.",
    )
    extra_headers = forms.CharField(
        label="Extra headers",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='A JSON object, e.g. {"X-Team": "eval"}. Stored encrypted. On an existing connection, '
        "leave blank to keep the current headers, or enter {} to remove them; changing the base URL "
        "needs them entered again.",
    )
    models = forms.CharField(
        label="Custom models",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One model name per line. The first one is used by “Test connection”.",
    )
    adapter = forms.ChoiceField(choices=[("openai", "OpenAI-compatible")], initial="openai")

    class Meta:
        model = LlmConnection
        fields = ["project", "provider", "adapter", "with_default_models", "config"]

    @property
    def editing(self) -> bool:
        # Not `instance.pk`: the primary key has a default, so a new connection has one before saving.
        return not self.instance._state.adding

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.editing:
            self.fields["url"].initial = self.instance.base_url
            self.fields["models"].initial = "\n".join(self.instance.custom_models)

    def clean_provider(self):
        return connections.validate_provider(self.cleaned_data.get("provider"))

    def clean_url(self):
        return connections.validate_base_url(self.cleaned_data.get("url"))

    def clean_secret_key(self):
        value = self.cleaned_data.get("secret_key")
        if not value:
            if self.editing:
                return None  # keep the stored key
            raise forms.ValidationError("A secret key is required (keyless servers accept any placeholder).")
        return connections.validate_secret_key(value)

    def clean_extra_headers(self):
        raw = self.cleaned_data.get("extra_headers", "").strip()
        if not raw:
            return None if self.editing else {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise forms.ValidationError('Enter a JSON object, e.g. {"X-Team": "eval"}.') from None
        return connections.validate_extra_headers(value)

    def clean_models(self):
        lines = self.cleaned_data.get("models", "").replace(",", "\n").splitlines()
        return connections.validate_custom_models([line for line in lines if line.strip()])

    def clean_config(self):
        return connections.validate_config(self.cleaned_data.get("config"))

    def clean(self):
        cleaned = super().clean()
        project = cleaned.get("project") or (self.instance.project if self.editing else None)
        provider = cleaned.get("provider")
        if project is not None and provider:
            taken = LlmConnection.objects.filter(project=project, provider=provider).exclude(
                pk=self.instance.pk
            )
            if taken.exists():
                self.add_error("provider", f"This project already has a connection named {provider!r}.")
        if self.editing and not self.errors:
            try:
                connections.validate_destination_change(
                    self.instance,
                    base_url=cleaned.get("url"),
                    secret_key=cleaned.get("secret_key"),
                    extra_headers=cleaned.get("extra_headers"),
                )
            except ValidationError as error:
                for field, messages_ in error.message_dict.items():
                    self.add_error({"base_url": "url"}.get(field, field), messages_)
        return cleaned


class TestConnectionForm(forms.Form):
    model = forms.CharField(
        max_length=connections.MODEL_NAME_MAX_LENGTH,
        help_text="The model to call, for connections without custom models.",
    )


@admin.register(LlmConnection)
class LlmConnectionAdmin(ProjectScopedAdmin):
    form = LlmConnectionForm
    view_role = Role.ADMIN
    change_role = Role.ADMIN
    list_display = [
        "provider",
        "project",
        "adapter",
        "base_url",
        "display_secret_key",
        "models_display",
        "updated_at",
    ]
    list_select_related = ["project__organization"]
    search_fields = ["provider", "base_url"]
    readonly_fields = ["display_secret_key", "header_names", "created_at", "updated_at"]
    actions = ["test_connection"]

    def get_fields(self, request, obj=None):
        fields = [
            "project",
            "provider",
            "adapter",
            "url",
            "secret_key",
            "extra_headers",
            "models",
            "with_default_models",
            "config",
        ]
        if obj is None:
            return fields
        return [
            *fields[:5],
            "display_secret_key",
            "extra_headers",
            "header_names",
            *fields[6:],
            "created_at",
            "updated_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        # Moving a connection to another project would hand its key to that project's members.
        return [*self.readonly_fields, "project"] if obj else self.readonly_fields

    @admin.display(description="Custom models")
    def models_display(self, obj):
        return ", ".join(obj.custom_models)

    @admin.display(description="Extra header names")
    def header_names(self, obj):
        return ", ".join(obj.extra_header_keys) or "—"

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        data = form.cleaned_data
        actor = Actor(user=request.user)
        fields = {
            "provider": data["provider"],
            "adapter": data["adapter"],
            "base_url": data["url"],
            "secret_key": data["secret_key"],
            "extra_headers": data["extra_headers"],
            "custom_models": data["models"],
            "with_default_models": data["with_default_models"],
        }
        if change:
            stored = LlmConnection.objects.get(pk=obj.pk)
            # A cleared config field arrives as None, which the update service reads as "keep".
            config = data["config"] if data["config"] is not None or stored.config is None else {}
            saved = connections.llm_connection_update(connection=stored, actor=actor, config=config, **fields)
        else:
            saved = connections.llm_connection_create(
                project=obj.project, actor=actor, config=data["config"], **fields
            )
        obj.pk = saved.pk
        obj.created_at, obj.updated_at = saved.created_at, saved.updated_at

    def delete_model(self, request, obj):
        connections.llm_connection_delete(connection=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for connection in queryset.select_related("project__organization"):
            self.delete_model(request, connection)

    @admin.action(description="Test connection (makes one real call)", permissions=["change"])
    def test_connection(self, request, queryset):
        selected = list(queryset.select_related("project"))
        form = TestConnectionForm(request.POST if "apply" in request.POST else None)
        model = form.cleaned_data["model"].strip() if form.is_bound and form.is_valid() else ""
        if not model and any(not connection.custom_models for connection in selected):
            context = {
                **self.admin_site.each_context(request),
                "title": "Test connection",
                "opts": self.model._meta,
                "connections": selected,
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "evalsite/llm_connection_test.html", context)
        for connection in selected:
            chosen = model or connection.custom_models[0]
            try:
                endpoint = connections.llm_endpoint_for(connection, timeout=CHECK_TIMEOUT_SECONDS)
            except DecryptionError as error:
                self.message_user(request, f"{connection.provider}: {error}", messages.ERROR)
                continue
            result = check_connection(endpoint, chosen)
            level = messages.SUCCESS if result.ok else messages.ERROR
            outcome = "OK" if result.ok else "failed"
            self.message_user(
                request, f"{connection.provider} ({chosen}): {outcome}. {result.message}", level
            )
        return None


class ModelPriceForm(forms.ModelForm):
    unit = forms.ChoiceField(choices=[(unit, unit) for unit in prices.USAGE_UNITS], initial="TOKENS")

    class Meta:
        model = ModelPrice
        fields = ["project", *prices.EDITABLE_FIELDS]

    def clean_match_pattern(self):
        pattern = self.cleaned_data["match_pattern"]
        try:
            re.compile(pattern)
        except re.error as error:
            raise forms.ValidationError(f"Not a valid regular expression: {error}") from None
        return pattern

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            problems = prices.model_price_problems({key: cleaned.get(key) for key in prices.EDITABLE_FIELDS})
            for field, messages in problems.items():
                self.add_error(prices.WIRE_TO_FIELD.get(field), messages)
        return cleaned


@admin.register(ModelPrice)
class ModelPriceAdmin(ProjectScopedAdmin):
    form = ModelPriceForm
    list_display = ["model_name", "match_pattern", "start_date", "unit", "input_price", "output_price", "total_price", "project"]
    list_select_related = ["project__organization"]
    search_fields = ["model_name", "match_pattern"]
    ordering = ["model_name", "-start_date"]

    def get_readonly_fields(self, request, obj=None):
        # A price never moves between projects: it would reprice another tenant's generations.
        return ["project"] if obj else []

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        data = {key: form.cleaned_data.get(key) for key in prices.EDITABLE_FIELDS}
        actor = Actor(user=request.user)
        if change:
            stored = ModelPrice.objects.get(pk=obj.pk)
            saved = prices.model_price_update(project=stored.project, price=stored, actor=actor, **data)
        else:
            saved = prices.model_price_create(project=obj.project, actor=actor, **data)
        obj.pk = saved.pk
        obj.created_at, obj.updated_at = saved.created_at, saved.updated_at

    def delete_model(self, request, obj):
        prices.model_price_delete(project=obj.project, price=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for price in queryset.select_related("project__organization"):
            self.delete_model(request, price)
