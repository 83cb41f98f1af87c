"""Roles are ordered levels: a check is always `role >= required`, never a set of names."""

from django.db import models


class Role(models.IntegerChoices):
    # NONE exists only as a project-level override: "this organization member may not see this project".
    NONE = 0, "No access"
    VIEWER = 10, "Viewer"
    ANNOTATOR = 20, "Annotator"
    MEMBER = 30, "Member"
    ADMIN = 40, "Admin"
    OWNER = 50, "Owner"


# Roles a person can hold in an organization (NONE would mean "not a member", which is no row).
ORGANIZATION_ROLES = [(r.value, r.label) for r in Role if r != Role.NONE]
# An API key acts for its project; it can never own or delete the project.
API_KEY_ROLES = [(r.value, r.label) for r in Role if Role.VIEWER <= r <= Role.ADMIN]
