"""Admin for datasets: inline item editing, archive/unarchive, import, export.

Every write goes through datasets.services, so revisions (versions) are written and the dataset's
schemas are enforced exactly as through the API. Form-level checks call the same service checks,
so a refusal shows up as a form error, never as a server error.

The apps above add to the Dataset admin through datasets/hooks.py: `experiments` adds the "Start
an experiment run" action and the dataset's runs, with a link comparing them, to its overview.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header, urlencode

from datasets import exporting, hooks, importing, services
from datasets.models import CellFormat, Dataset, DatasetItem, ImportFormat, ImportJob, ImportMode, ItemStatus
from datasets.schemas import ItemSchemas
from datasets.uploads import with_import_uploads
from evalsite.api.errors import PayloadTooLarge
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin, ProjectScopedInline, project_ids_at_least

# The change page of a dataset edits its most recently changed items inline; the item list
# (linked from the page) has them all. A formset of ten thousand forms helps nobody.
MAX_INLINE_ITEMS = 100


def _add_service_errors(form: forms.Form, error: ValidationError, fields: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form, on the field it names when the form has it.

    Services key errors by their argument names, which are the model forms' field names; `fields`
    maps the keys of a form whose fields are named otherwise (the import form's)."""
    for key, messages_ in error.message_dict.items():
        field = (fields or {}).get(key, key)
        form.add_error(field if field in form.fields else None, [f"{key}: {m}" for m in messages_])


class DatasetAdminForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["project", "name", "description", "metadata", "input_schema", "expected_output_schema"]

    def clean(self):
        cleaned = super().clean()
        # A new dataset already has its id (the model's default), so "new" is `_state.adding`, not "no pk".
        adding = self.instance._state.adding
        project = cleaned.get("project") or (None if adding else self.instance.project)
        name = cleaned.get("name")
        if project is None or name is None:
            return cleaned
        if Dataset.objects.filter(project=project, name=name).exclude(pk=self.instance.pk).exists():
            self.add_error("name", f"A dataset named {name!r} already exists in this project")
        try:
            services.dataset_schemas_check(
                project=project,
                dataset=None if adding else Dataset.objects.get(pk=self.instance.pk),
                input_schema=cleaned.get("input_schema"),
                expected_output_schema=cleaned.get("expected_output_schema"),
            )
        except ValidationError as error:
            _add_service_errors(self, error)
        return cleaned


def _schema_errors_on_form(form: forms.Form, schemas: ItemSchemas, cleaned: dict) -> None:
    for where, message in schemas.errors(cleaned.get("input"), cleaned.get("expected_output")).items():
        form.add_error("input" if where.startswith("input") else "expected_output", f"{where}: {message}")


class DatasetItemInlineForm(forms.ModelForm):
    """Checked like the services check: id free in the project, content matching the schemas
    (unless the item stays archived with its input and expected output untouched)."""

    class Meta:
        model = DatasetItem
        fields = ["item_id", "status", "input", "expected_output", "metadata", "source_trace_id", "source_observation_id"]

    def __init__(self, *args, dataset: Dataset, schemas: ItemSchemas, **kwargs):
        super().__init__(*args, **kwargs)
        self.dataset, self.schemas = dataset, schemas
        self.fields["item_id"].required = False
        if self.instance.pk:
            # An item's id is its identity for runs and the SDK: set once, never edited.
            self.fields["item_id"].disabled = True
        else:
            self.fields["item_id"].help_text = "Blank: a new random id."

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("DELETE"):
            return cleaned
        item_id = cleaned.get("item_id")
        if not self.instance.pk and item_id:
            if DatasetItem.objects.filter(project=self.dataset.project_id, item_id=item_id).exists():
                self.add_error("item_id", f"An item with id {item_id!r} already exists in this project")
        stays_archived = cleaned.get("status") == ItemStatus.ARCHIVED and self.instance.status == ItemStatus.ARCHIVED
        if not stays_archived or {"input", "expected_output"} & set(self.changed_data):
            _schema_errors_on_form(self, self.schemas, cleaned)
        return cleaned


class DatasetItemFormSet(BaseInlineFormSet):
    """Hands every form its dataset and the dataset's compiled schemas (built once per request)."""

    def get_form_kwargs(self, index):
        if not hasattr(self, "_schemas"):
            self._schemas = ItemSchemas.of(self.instance)
        return {**super().get_form_kwargs(index), "dataset": self.instance, "schemas": self._schemas}


class DatasetItemInline(ProjectScopedInline):
    model = DatasetItem
    form = DatasetItemInlineForm
    formset = DatasetItemFormSet
    fields = [
        "item_id",
        "status",
        "input",
        "expected_output",
        "metadata",
        "source_trace_id",
        "source_observation_id",
        "updated_at",
    ]
    readonly_fields = ["updated_at"]
    ordering = ["created_at", "item_id"]
    verbose_name_plural = f"Items (the {MAX_INLINE_ITEMS} most recently changed; see “All items” above for the rest)"


def _item_fields(cleaned: dict) -> dict:
    return {name: cleaned.get(name) for name in services.CONTENT_FIELDS}


@admin.register(Dataset)
class DatasetAdmin(ProjectScopedAdmin):
    form = DatasetAdminForm
    inlines = [DatasetItemInline]
    list_display = ["name", "project", "active_items", "updated_at", "links"]
    list_select_related = ["project__organization"]
    search_fields = ["name"]
    readonly_fields = ["overview", "created_at", "updated_at"]

    # Read from the extension point on each request (Django's ModelAdmin reads `actions` on the
    # instance), so actions of apps whose ready() runs after the admin's autodiscovery are there too.
    @property
    def actions(self):
        return list(hooks.dataset_admin_actions)

    def get_fields(self, request, obj=None):
        fields = ["project", "name", "description", "metadata", "input_schema", "expected_output_schema"]
        return [*fields, "overview", "created_at", "updated_at"] if obj else fields

    def get_inlines(self, request, obj):
        # Items are added once the dataset exists, so they are checked against its saved schemas.
        return self.inlines if obj else []

    def get_readonly_fields(self, request, obj=None):
        # Moving a dataset to another project would move its items across tenants: not an edit.
        return [*self.readonly_fields, "project"] if obj else []

    def scoped_queryset(self, request, queryset):
        return queryset.annotate(active_item_count=Count("items", filter=Q(items__status=ItemStatus.ACTIVE)))

    @admin.display(description="Active items", ordering="active_item_count")
    def active_items(self, dataset):
        return getattr(dataset, "active_item_count", None)

    def _urls_of(self, dataset) -> dict:
        return {
            "items": reverse("admin:datasets_datasetitem_changelist") + "?" + urlencode({"dataset__exact": dataset.pk}),
            "import": reverse("admin:datasets_dataset_import", args=[dataset.pk]),
            "csv": reverse("admin:datasets_dataset_export", args=[dataset.pk]) + "?format=csv",
            "jsonl": reverse("admin:datasets_dataset_export", args=[dataset.pk]) + "?format=jsonl",
        }

    @admin.display(description="")
    def links(self, dataset):
        urls = self._urls_of(dataset)
        return format_html(
            '<a href="{}">Items</a> · <a href="{}">Import</a> · Export <a href="{}">CSV</a> / <a href="{}">JSONL</a>',
            urls["items"],
            urls["import"],
            urls["csv"],
            urls["jsonl"],
        )

    @admin.display(description="Overview")
    def overview(self, dataset):
        urls = self._urls_of(dataset)
        parts = [
            format_html(
                '<p><a href="{}">All items</a> · <a href="{}">Import a CSV or JSONL file</a> · '
                'Export <a href="{}">CSV</a> / <a href="{}">JSONL</a></p>',
                urls["items"],
                urls["import"],
                urls["csv"],
                urls["jsonl"],
            )
        ]
        parts += [section(dataset) for section in hooks.dataset_admin_overview_sections]
        return format_html("{}" * len(parts), *parts)

    def get_formset_kwargs(self, request, obj, inline, prefix):
        params = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, DatasetItemInline) and obj is not None and obj.pk:
            recent = (
                DatasetItem.objects.filter(project_id=obj.project_id, dataset=obj)
                .order_by("-updated_at", "-item_id")
                .values("pk")[:MAX_INLINE_ITEMS]
            )
            params["queryset"] = params["queryset"].filter(pk__in=Subquery(recent))
        return params

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        actor = Actor(user=request.user)
        fields = {
            "name": obj.name,
            "description": obj.description,
            "metadata": obj.metadata,
            "input_schema": obj.input_schema,
            "expected_output_schema": obj.expected_output_schema,
        }
        if change:
            saved = services.dataset_update(
                project=obj.project, dataset=Dataset.objects.get(pk=obj.pk), actor=actor, **fields
            )
        else:
            saved = services.dataset_create(project=obj.project, actor=actor, **fields)
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at
        obj.input_schema, obj.expected_output_schema = saved.input_schema, saved.expected_output_schema
        obj._state.adding, obj._state.db = False, saved._state.db

    def save_formset(self, request, form, formset, change):
        if formset.model is not DatasetItem:
            return super().save_formset(request, form, formset, change)
        dataset, actor = form.instance, Actor(user=request.user)
        project = dataset.project
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        deleted = [f.instance for f in formset.deleted_forms if f.instance.pk]
        if deleted:
            services.dataset_items_delete(project=project, items=deleted, actor=actor)
            formset.deleted_objects = deleted
        for item_form in formset.forms:
            if item_form in formset.deleted_forms or not item_form.has_changed():
                continue
            cleaned, item = item_form.cleaned_data, item_form.instance
            if not item.pk:
                created = services.dataset_item_create(
                    project=project,
                    dataset=dataset,
                    item_id=cleaned.get("item_id") or None,
                    status=cleaned.get("status") or ItemStatus.ACTIVE,
                    actor=actor,
                    **_item_fields(cleaned),
                )
                formset.new_objects.append(created)
                continue
            stored = DatasetItem.objects.get(pk=item.pk)
            if cleaned.get("status") == ItemStatus.ARCHIVED and stored.status != ItemStatus.ARCHIVED:
                stored = services.dataset_item_archive(project=project, item=stored, actor=actor)
            updated = services.dataset_item_update(project=project, item=stored, actor=actor, **_item_fields(cleaned))
            if cleaned.get("status") == ItemStatus.ACTIVE and updated.status != ItemStatus.ACTIVE:
                updated = services.dataset_item_unarchive(project=project, item=updated, actor=actor)
            formset.changed_objects.append((updated, item_form.changed_data))

    def delete_model(self, request, obj):
        services.dataset_delete(project=obj.project, dataset=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for dataset in queryset.select_related("project__organization"):
            self.delete_model(request, dataset)

    # --- import and export pages ------------------------------------------------------------------

    def get_urls(self):
        own = [
            path(
                "<path:object_id>/import/",
                with_import_uploads(self.admin_site.admin_view(self.import_view)),
                name="datasets_dataset_import",
            ),
            path("<path:object_id>/export/", self.admin_site.admin_view(self.export_view), name="datasets_dataset_export"),
        ]
        return own + super().get_urls()

    def _dataset_or_404(self, request, object_id) -> Dataset:
        dataset = self.get_object(request, object_id)
        if dataset is None:
            raise Http404("Dataset not found")
        return dataset

    def import_view(self, request, object_id):
        dataset = self._dataset_or_404(request, object_id)
        if not self.has_change_permission(request, dataset):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = importing.import_job_create(
                    project=dataset.project,
                    dataset=dataset,
                    import_format=form.cleaned_data["format"] or None,
                    content=importing.decode_upload_file(upload),
                    mapping=form.mapping(),
                    mode=form.cleaned_data["mode"],
                    cell_format=form.cleaned_data["cell_format"],
                    filename=upload.name or "",
                    actor=Actor(user=request.user),
                )
            except ValidationError as error:
                _add_service_errors(form, error, ImportForm.ERROR_FIELDS)
            except PayloadTooLarge as error:
                form.add_error("file", str(error.detail))
            else:
                self.message_user(request, f"Import of {upload.name} queued.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:datasets_importjob_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import items into {dataset.name}",
            "opts": self.model._meta,
            "original": dataset,
            "form": form,
            "recent_jobs": ImportJob.objects.filter(project=dataset.project, dataset=dataset).defer("content")[:10],
        }
        return TemplateResponse(request, "datasets/admin/import_form.html", context)

    def export_view(self, request, object_id):
        dataset = self._dataset_or_404(request, object_id)
        export_format = request.GET.get("format", ImportFormat.JSONL)
        if export_format not in ImportFormat.values:
            raise Http404("Unknown export format")
        response = StreamingHttpResponse(
            exporting.export_chunks(
                project=dataset.project,
                dataset=dataset,
                export_format=export_format,
                include_archived=request.GET.get("archived") == "1",
            ),
            content_type=exporting.CONTENT_TYPES[export_format],
        )
        response["Content-Disposition"] = content_disposition_header(
            True, exporting.export_filename(dataset, export_format)
        )
        return response


def _spec(text: str):
    """'question' → 'question'; 'question, context' → ['question', 'context']; '' → None."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts


class ImportForm(forms.Form):
    ERROR_FIELDS = {
        "file": "file",
        "format": "format",
        "mode": "mode",
        "cellFormat": "cell_format",
        "mapping.input": "input",
        "mapping.expectedOutput": "expected_output",
        "mapping.metadata": "metadata",
    }

    file = forms.FileField(help_text="A CSV file with a header row, or a JSONL file (one JSON object per line).")
    format = forms.ChoiceField(
        choices=[("", "From the file name (.csv, .jsonl)"), *ImportFormat.choices], required=False
    )
    input = forms.CharField(
        initial="input",
        help_text="A column (CSV) or dotted path (JSONL); several, separated by commas, make an object keyed "
        "by them. A trailing ? makes one optional (missing → null).",
    )
    expected_output = forms.CharField(label="Expected output", required=False, initial="expectedOutput?")
    metadata = forms.CharField(required=False, initial="metadata?")
    mapping_json = forms.CharField(
        label="Advanced mapping (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='Overrides the three fields above, e.g. {"input": {"q": "question", "ctx": ["doc", "page"]}, '
        '"expectedOutput": "answer"}. See datasets/IMPORT.md.',
    )
    mode = forms.ChoiceField(choices=ImportMode.choices, initial=ImportMode.SKIP_INVALID)
    cell_format = forms.ChoiceField(label="CSV cells", choices=CellFormat.choices, initial=CellFormat.TEXT)

    def clean_mapping_json(self):
        raw = self.cleaned_data.get("mapping_json", "").strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as error:
            raise forms.ValidationError(f"Not valid JSON: {error}") from None

    def mapping(self) -> dict:
        if self.cleaned_data.get("mapping_json") is not None:
            return self.cleaned_data["mapping_json"]
        mapping = {
            "input": _spec(self.cleaned_data["input"]),
            "expectedOutput": _spec(self.cleaned_data.get("expected_output", "")),
            "metadata": _spec(self.cleaned_data.get("metadata", "")),
        }
        return {key: spec for key, spec in mapping.items() if spec is not None}


class DatasetItemAdminForm(forms.ModelForm):
    class Meta:
        model = DatasetItem
        fields = ["dataset", "item_id", "input", "expected_output", "metadata", "source_trace_id", "source_observation_id"]

    def clean(self):
        cleaned = super().clean()
        dataset = cleaned.get("dataset") or getattr(self.instance, "dataset", None)
        if dataset is None:
            return cleaned
        item_id = cleaned.get("item_id")
        if not self.instance.pk and item_id and DatasetItem.objects.filter(project=dataset.project_id, item_id=item_id).exists():
            self.add_error("item_id", f"An item with id {item_id!r} already exists in this project")
        if self.instance.status != ItemStatus.ARCHIVED or {"input", "expected_output"} & set(self.changed_data):
            _schema_errors_on_form(self, ItemSchemas.of(dataset), cleaned)
        return cleaned


@admin.register(DatasetItem)
class DatasetItemAdmin(ProjectScopedAdmin):
    form = DatasetItemAdminForm
    list_display = ["item_id", "dataset", "status", "input_preview", "updated_at"]
    list_filter = ["status"]
    list_select_related = ["dataset"]
    search_fields = ["item_id", "dataset__name", "source_trace_id", "source_observation_id"]
    readonly_fields = ["status", "created_at", "updated_at"]
    actions = ["archive_selected", "unarchive_selected", "delete_selected_items"]

    def get_fields(self, request, obj=None):
        fields = ["dataset", "item_id", "input", "expected_output", "metadata", "source_trace_id", "source_observation_id"]
        return [*fields, "status", "created_at", "updated_at"] if obj else fields

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "dataset", "item_id"] if obj else []

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced: deletes must write their revision
        return actions

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "dataset" and not request.user.is_superuser:
            kwargs["queryset"] = Dataset.objects.filter(project_id__in=project_ids_at_least(request, self.change_role))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Input")
    def input_preview(self, item):
        text = json.dumps(item.input, ensure_ascii=False)
        return text if len(text) <= 80 else text[:79] + "…"

    def save_model(self, request, obj, form, change):
        dataset = obj.dataset
        obj.project_id = dataset.project_id
        self.check_project_write(request, obj)
        actor = Actor(user=request.user)
        cleaned = form.cleaned_data
        if change:
            saved = services.dataset_item_update(
                project=dataset.project, item=DatasetItem.objects.get(pk=obj.pk), actor=actor, **_item_fields(cleaned)
            )
        else:
            saved = services.dataset_item_create(
                project=dataset.project, dataset=dataset, item_id=cleaned.get("item_id") or None, actor=actor, **_item_fields(cleaned)
            )
        obj.pk, obj.item_id, obj.updated_at = saved.pk, saved.item_id, saved.updated_at
        obj._state.adding, obj._state.db = False, saved._state.db

    def delete_model(self, request, obj):
        self.check_project_write(request, obj)
        services.dataset_item_delete(project=obj.dataset.project, item=obj, actor=Actor(user=request.user))

    def _by_project(self, request, queryset):
        """The selected items per project, only where the user may change them."""
        groups: dict = {}
        for item in queryset.select_related("dataset__project__organization"):
            self.check_project_write(request, item)
            groups.setdefault(item.dataset.project, []).append(item)
        return groups.items()

    @admin.action(description="Archive selected items (left out of runs)")
    def archive_selected(self, request, queryset):
        archived = sum(
            services.dataset_items_archive(project=project, items=items, actor=Actor(user=request.user))
            for project, items in self._by_project(request, queryset)
        )
        self.message_user(request, f"Archived {archived} item(s).", messages.SUCCESS)

    @admin.action(description="Unarchive selected items")
    def unarchive_selected(self, request, queryset):
        unarchived, refused = 0, {}
        for project, items in self._by_project(request, queryset):
            result = services.dataset_items_unarchive(project=project, items=items, actor=Actor(user=request.user))
            unarchived += result.unarchived
            refused.update(result.refused)
        self.message_user(request, f"Unarchived {unarchived} item(s).", messages.SUCCESS)
        for item_id, problem in list(refused.items())[:10]:
            self.message_user(
                request, f"Item {item_id} stays archived: it does not match the schema ({problem}).", messages.WARNING
            )

    @admin.action(description="Delete selected items (kept in earlier versions)")
    def delete_selected_items(self, request, queryset):
        deleted = sum(
            services.dataset_items_delete(project=project, items=items, actor=Actor(user=request.user))
            for project, items in self._by_project(request, queryset)
        )
        self.message_user(request, f"Deleted {deleted} item(s).", messages.SUCCESS)


@admin.register(ImportJob)
class ImportJobAdmin(ProjectScopedAdmin):
    change_form_template = "datasets/admin/importjob_change_form.html"
    list_display = ["created_at", "dataset", "filename", "status", "progress", "progress_failed"]
    list_filter = ["status"]
    list_select_related = ["dataset"]
    fields = [
        "dataset",
        "filename",
        "format",
        "mode",
        "cell_format",
        "mapping_display",
        "status",
        "progress",
        "message",
        "error_table",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    def scoped_queryset(self, request, queryset):
        return queryset.defer("content")

    def has_add_permission(self, request, *args):
        return False  # imports start from a dataset's import page

    def has_change_permission(self, request, obj=None):
        return False  # a job's record is what happened; it is not edited

    @admin.display(description="Mapping")
    def mapping_display(self, job):
        return format_html("<code>{}</code>", json.dumps(job.mapping, ensure_ascii=False))

    @admin.display(description="Progress")
    def progress(self, job):
        total = job.progress_total
        if total is None:
            return "counting rows…" if job.status == "running" else "—"
        percent = round(100 * job.progress_done / total) if total else 100
        return format_html(
            "{} / {} rows ({}%) · {} added · {} invalid", job.progress_done, total, percent, job.progress_added, job.progress_failed
        )

    @admin.display(description="Invalid rows")
    def error_table(self, job):
        if not job.errors:
            return "—"
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", ((e["line"], e["message"]) for e in job.errors))
        more = job.progress_failed - len(job.errors)
        note = format_html("<p>… and {} more.</p>", more) if more > 0 else ""
        return format_html("<table><tr><th>Line</th><th>Problem</th></tr>{}</table>{}", rows, note)
