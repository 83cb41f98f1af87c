"""Forms of the evaluator admin's own pages (evaluators/admin.py). They only parse what is typed:
every rule about evaluators and rules is the services', whose refusals `add_service_errors` puts
on the field they name, so the admin and the API refuse the same things with the same words."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from evalsite.json_values import JSONFormField
from evaluators.models import (
    EvaluationRule,
    Evaluator,
    EvaluatorKind,
    EvaluatorVersion,
    JobTarget,
    RuleTarget,
)
from evaluators.services import MAX_DELAY_SECONDS, NAME_MAX_LENGTH

NO_MODEL = ""


class TextareaField(forms.CharField):
    """Text typed into a textarea, with the browser's \r\n newlines read as \n: an unchanged prompt
    compares equal to the stored one, so saving only a new name adds no version."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n") if isinstance(value, str) else value


class OptionalJSONField(JSONFormField):
    """An optional JSON textarea that shows nothing, not `null`, when there is no value."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


def add_service_errors(form: forms.Form, error: ValidationError, fields: dict[str, str]) -> None:
    """Put a service's ValidationError on the form: `fields` maps service argument → form field."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for argument, problems in error.message_dict.items():
        field = fields.get(argument, argument)
        if field in form.fields:
            form.add_error(field, problems)
        else:
            form.add_error(None, [f"{argument}: {problem}" for problem in problems])


def _json_text(value) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


class EvaluatorForm(forms.Form):
    """A new evaluator, or a new definition of one (a new version)."""

    SERVICE_FIELDS = {"type": "kind", "model_config": "connection", "score_config_id": "score_config"}
    DEFINITION_FIELDS = ("prompt", "connection", "model", "model_parameters", "variable_mapping",
                         "output_definition", "score_config", "check")

    name = forms.CharField(max_length=NAME_MAX_LENGTH)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(label="Type", choices=EvaluatorKind.choices, initial=EvaluatorKind.LLM_AS_JUDGE)
    prompt = TextareaField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 8, "cols": 90}),
        help_text='Judges: the user message, or chat messages as JSON [{"role": "system", "content": "…"}, …], '
                  "with {{input}}, {{output}}, {{expected_output}}… variables.",
    )
    connection = forms.ChoiceField(label="LLM connection", required=False, help_text="Judges; none: the judge stays paused.")
    model = forms.CharField(required=False, max_length=200)
    model_parameters = OptionalJSONField(widget=forms.Textarea(attrs={"rows": 2}),
                                     help_text='A JSON object, e.g. {"temperature": 0}.')
    variable_mapping = OptionalJSONField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Judges: [{"variable": "answer", "source": "output", "jsonPath": "$.text"}]; blank: variables take the source of their name.',
    )
    output_definition = OptionalJSONField(
        widget=forms.Textarea(attrs={"rows": 3}), initial={"dataType": "BOOLEAN"},
        help_text='Judges: {"dataType": "NUMERIC", "minValue": 0, "maxValue": 1}, {"dataType": "BOOLEAN"} or '
                  '{"dataType": "CATEGORICAL", "categories": […], "shouldAllowMultipleMatches": false}.',
    )
    score_config = forms.ChoiceField(required=False, help_text="Optional: a score config of the same type.")
    check = OptionalJSONField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Checks: e.g. {"type": "exact_match"}, {"type": "regex", "pattern": "…"}, {"type": "valid_json"}.',
    )

    def __init__(self, *args, connections: list[str], score_configs: list[tuple[str, str]], kind: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].choices = [(NO_MODEL, "— none —"), *((c, c) for c in connections)]
        self.fields["score_config"].choices = [("", "— none —"), *score_configs]
        if kind is not None:  # editing: the type of an evaluator cannot change
            self.fields["kind"].choices = [(kind, EvaluatorKind(kind).label)]
            self.fields["kind"].initial = kind
            self.fields["kind"].disabled = True

    @classmethod
    def initial_for(cls, evaluator: Evaluator, version: EvaluatorVersion) -> dict:
        prompt = version.prompt
        single_user_message = len(prompt) == 1 and prompt[0]["role"] == "user"
        return {
            "name": evaluator.name, "description": evaluator.description or "", "kind": evaluator.kind,
            "prompt": prompt[0]["content"] if single_user_message else _json_text(prompt or None),
            "connection": version.provider or NO_MODEL, "model": version.model or "",
            "model_parameters": version.model_parameters, "variable_mapping": version.variable_mapping,
            "output_definition": version.output_definition if evaluator.kind == EvaluatorKind.LLM_AS_JUDGE else None,
            "score_config": version.score_config_id or "", "check": version.check_spec,
        }

    def clean_prompt(self):
        text = self.cleaned_data["prompt"].strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError as error:
                raise ValidationError(f"Chat messages must be valid JSON: {error}") from None
        return text or None

    def definition(self) -> dict:
        """The service's definition arguments (evaluator_create / evaluator_update)."""
        data = self.cleaned_data
        if data["kind"] == EvaluatorKind.CHECK:
            fields = {"check": data["check"]}
        else:
            model_config = None
            if data["connection"] or data["model"].strip():
                model_config = {"provider": data["connection"], "model": data["model"]}
            fields = {
                "prompt": data["prompt"], "model_config": model_config, "model_parameters": data["model_parameters"],
                "variable_mapping": data["variable_mapping"], "output_definition": data["output_definition"],
            }
        fields["score_config_id"] = data["score_config"] or None
        return fields

    def definition_changed(self) -> bool:
        return any(name in self.changed_data for name in self.DEFINITION_FIELDS)


class TryForm(forms.Form):
    target_kind = forms.ChoiceField(
        label="Target", choices=[(JobTarget.TRACE, "trace"), (JobTarget.RUN_ITEM, "run item"), (JobTarget.OBSERVATION, "observation")],
    )
    target_id = forms.CharField(max_length=128, help_text="A trace id, a run item's number (its admin page's id) or an observation id.")
    version = forms.TypedChoiceField(coerce=int, help_text="The version to try (default: the latest).")
    variable_mapping = OptionalJSONField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional: a mapping overriding the version's, as a rule assignment would.",
    )

    def __init__(self, *args, versions: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [(v, f"v{v}") for v in versions]


class RuleForm(forms.Form):
    SERVICE_FIELDS = {"evaluator_assignments": "evaluators"}

    name = forms.CharField(max_length=NAME_MAX_LENGTH)
    enabled = forms.BooleanField(required=False, initial=True)
    target = forms.ChoiceField(choices=RuleTarget.choices, initial=RuleTarget.OBSERVATION)
    sampling = forms.FloatField(min_value=0, max_value=1, initial=1.0, help_text="The share of matching objects judged, 0 to 1.")
    delay_seconds = forms.IntegerField(min_value=0, max_value=MAX_DELAY_SECONDS, initial=0,
                                       help_text="Seconds after an object's last update before it is judged.")
    monthly_budget = forms.DecimalField(required=False, min_value=0, max_digits=20, decimal_places=6,
                                        help_text="Judge spend per UTC month; blank: no limit.")
    filter = OptionalJSONField(
        initial=[], widget=forms.Textarea(attrs={"rows": 4, "cols": 90}),
        help_text='Langfuse filters, e.g. [{"type": "string", "column": "traceName", "operator": "=", "value": "chat"}].',
    )
    evaluators = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    variable_mappings = OptionalJSONField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Optional, per evaluator id: {"<evaluator id>": [{"variable": "answer", "source": "output"}]}; '
                  "an evaluator not named uses its own mapping.",
    )

    def __init__(self, *args, evaluators: list[Evaluator], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["evaluators"].choices = [(e.pk, f"{e.name} ({e.kind}, id {e.pk})") for e in evaluators]

    @classmethod
    def initial_for(cls, rule: EvaluationRule) -> dict:
        assignments = list(rule.assignments.all())
        mappings = {a.evaluator_id: a.variable_mapping for a in assignments if a.variable_mapping is not None}
        return {
            "name": rule.name, "enabled": rule.enabled, "target": rule.target, "sampling": rule.sampling,
            "delay_seconds": rule.delay_seconds, "monthly_budget": rule.monthly_budget, "filter": rule.filter,
            "evaluators": [a.evaluator_id for a in assignments], "variable_mappings": mappings or None,
        }

    def clean_variable_mappings(self):
        mappings = self.cleaned_data["variable_mappings"] or {}
        if not isinstance(mappings, dict):
            raise ValidationError("Give a JSON object: evaluator id → mapping.")
        return mappings

    def clean(self):
        cleaned = super().clean()
        unknown = sorted(set(cleaned.get("variable_mappings") or {}) - set(cleaned.get("evaluators") or []))
        if unknown:
            self.add_error("variable_mappings", f"These are not among the selected evaluators: {', '.join(unknown)}.")
        return cleaned

    def changes(self) -> dict:
        """The service's arguments (evaluation_rule_create / evaluation_rule_update)."""
        data = self.cleaned_data
        mappings = data["variable_mappings"]
        return {
            "name": data["name"], "enabled": data["enabled"], "target": data["target"], "sampling": data["sampling"],
            "delay_seconds": data["delay_seconds"], "monthly_budget": data["monthly_budget"],
            "filter": data["filter"] or [],
            "evaluator_assignments": [
                {"evaluatorId": pk, **({"variableMapping": mappings[pk]} if pk in mappings else {})}
                for pk in data["evaluators"]
            ],
        }


class BackfillForm(forms.Form):
    start = forms.DateTimeField(help_text="From (inclusive), e.g. 2026-11-01 00:00 (UTC).")
    end = forms.DateTimeField(help_text="To (exclusive).")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["start"] >= cleaned["end"]:
            self.add_error("end", "The end must come after the start.")
        return cleaned


class EvaluateRunForm(forms.Form):
    evaluators = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, evaluators: list[Evaluator], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["evaluators"].choices = [(e.pk, f"{e.name} ({e.kind})") for e in evaluators]
