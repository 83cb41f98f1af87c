import uuid

from django.conf import settings
from django.db import models

from evalsite.tenancy.roles import API_KEY_ROLES, ORGANIZATION_ROLES, Role


def new_id() -> str:
    return uuid.uuid4().hex


class Organization(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    metadata = models.JSONField(default=dict, blank=True)
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="project_name_unique_in_org"),
        ]

    def __str__(self) -> str:
        return f"{self.organization.name} / {self.name}"


class OrganizationMembership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="org_memberships")
    role = models.PositiveSmallIntegerField(choices=ORGANIZATION_ROLES, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="org_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization}: {Role(self.role).label}"


class ProjectMembership(models.Model):
    """A project-level override of the organization role; Role.NONE takes the project away."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships")
    role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="project_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project}: {Role(self.role).label}"


class ApiKey(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    # The public key is how a request names its project, so it is unique across all projects:
    # the one index here that cannot lead with `project`.
    public_key = models.CharField(max_length=80, unique=True, editable=False)
    # sha256 of the secret. Secrets are 256 random bits, so a fast hash is enough (no dictionary to
    # attack) and keeps authentication off the hot path of ingestion.
    secret_hash = models.CharField(max_length=64, editable=False)
    display_secret_key = models.CharField(max_length=32, editable=False)
    note = models.CharField(max_length=200, blank=True)
    role = models.PositiveSmallIntegerField(choices=API_KEY_ROLES, default=Role.ADMIN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["project", "created_at"], name="apikey_project_created")]

    def __str__(self) -> str:
        return self.public_key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditLog(models.Model):
    """Who (a user or an API key) did what to which object, and when. Rows are never edited."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_logs")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_logs")
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project", "created_at"], name="auditlog_project_created"),
            models.Index(fields=["organization", "created_at"], name="auditlog_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_id}"
