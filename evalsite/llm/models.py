import uuid

from django.db import models

from evalsite.tenancy.models import Project


def new_id() -> str:
    return uuid.uuid4().hex


class PriceFields(models.Model):
    """What a price row says, for a project's own prices and the built-in ones alike."""

    model_name = models.CharField(max_length=200)
    match_pattern = models.CharField(max_length=500)
    start_date = models.DateTimeField(null=True, blank=True)
    unit = models.CharField(max_length=20, default="TOKENS")
    # Prices per unit (per token), in USD.
    input_price = models.DecimalField(max_digits=20, decimal_places=12, null=True, blank=True)
    output_price = models.DecimalField(max_digits=20, decimal_places=12, null=True, blank=True)
    total_price = models.DecimalField(max_digits=20, decimal_places=12, null=True, blank=True)
    tokenizer_id = models.CharField(max_length=100, null=True, blank=True)
    tokenizer_config = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["model_name", "-start_date"]

    def __str__(self) -> str:
        return self.model_name


class ModelPrice(PriceFields):
    """What a model costs per unit, matched by a regular expression on the model name.

    Used to compute a generation's cost when it arrives with usage but no cost, and for every
    call the platform makes itself (judges, server-side experiment runs).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)

    class Meta(PriceFields.Meta):
        indexes = [models.Index(fields=["project", "model_name"], name="modelprice_project_name")]


class LlmConnection(models.Model):
    """An OpenAI-compatible endpoint a project may call. The key is stored encrypted (Fernet)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    provider = models.CharField(max_length=100, help_text="Name of the connection, unique in the project")
    adapter = models.CharField(max_length=40, default="openai")
    base_url = models.URLField(max_length=500, blank=True, default="")
    secret_key_encrypted = models.TextField(editable=False)
    display_secret_key = models.CharField(max_length=40, editable=False)
    extra_headers_encrypted = models.TextField(blank=True, default="", editable=False)
    extra_header_keys = models.JSONField(default=list, blank=True, editable=False)
    custom_models = models.JSONField(default=list, blank=True)
    with_default_models = models.BooleanField(default=True)
    config = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider"]
        constraints = [models.UniqueConstraint(fields=["project", "provider"], name="llmconnection_provider_unique")]

    def __str__(self) -> str:
        return self.provider


class ManagedModelPrice(PriceFields):
    """A built-in model price, shared by every project (`isLangfuseManaged` on the wire).

    The rows mirror evalsite/llm/model_prices.json, the list maintained in this repository; they
    are loaded on first use and refreshed with `manage.py model_prices_refresh`
    (evalsite/llm/managed_prices.py). A project's own price for a model overrides them.
    """

    # Stable ids from the data file, so a refresh updates rows in place.
    id = models.CharField(primary_key=True, max_length=64)

    is_managed = True

    class Meta(PriceFields.Meta):
        pass
