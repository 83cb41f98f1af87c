from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from evalsite.tenancy import services
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin, project_ids_at_least, role_for_project_id
from evalsite.tenancy.models import (
    ApiKey,
    AuditLog,
    Organization,
    OrganizationMembership,
    Project,
    ProjectMembership,
)
from evalsite.tenancy.roles import Role


def organization_roles(request) -> dict[str, Role]:
    if not hasattr(request, "_organization_roles"):
        request._organization_roles = dict(
            OrganizationMembership.objects.filter(user=request.user).values_list("organization_id", "role")
        )
    return request._organization_roles


def organization_ids_at_least(request, minimum: Role) -> list[str]:
    return [oid for oid, role in organization_roles(request).items() if role >= minimum]


class OrganizationScopedAdmin(admin.ModelAdmin):
    """Organization-level rows: the organization role decides (a project override cannot grant it)."""

    organization_lookup = "organization"
    view_role = Role.ADMIN
    change_role = Role.ADMIN
    delete_role = Role.OWNER

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.organization_lookup}__in": organization_ids_at_least(request, self.view_role)})

    def organization_id_of(self, obj):
        return obj.pk if self.organization_lookup == "pk" else getattr(obj, f"{self.organization_lookup}_id")

    def _allowed(self, request, obj, minimum) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return bool(organization_ids_at_least(request, minimum))
        return organization_roles(request).get(self.organization_id_of(obj), Role.NONE) >= minimum

    def has_module_permission(self, request):
        return request.user.is_staff and self._allowed(request, None, self.view_role)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj, self.view_role)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj, self.change_role)

    def has_add_permission(self, request):
        return self._allowed(request, None, self.change_role)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj, self.delete_role)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            if db_field.related_model is Organization:
                kwargs["queryset"] = Organization.objects.filter(
                    id__in=organization_ids_at_least(request, self.change_role)
                )
            elif db_field.related_model is get_user_model():
                kwargs["queryset"] = visible_users(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def visible_users(request):
    """Users a non-superuser admin may pick: members of the organizations they administer.

    Listing every user would leak other tenants' user names; adding a brand-new person to an
    organization is a superuser's (or the `create_user` command's) job.
    """
    return get_user_model().objects.filter(
        org_memberships__organization_id__in=organization_ids_at_least(request, Role.ADMIN)
    ).distinct()


class MembershipForm(forms.ModelForm):
    """Shows the tenancy service's refusal (role ceilings, the last owner) as form errors.

    The admin hands the form its `place_field` and `check_set` (the service's check); the service runs
    the same check again when the admin saves, so a form is never the only guard.
    """

    def clean(self):
        cleaned = super().clean()
        editing = not self.instance._state.adding
        place = cleaned.get(self.place_field) or (getattr(self.instance, self.place_field) if editing else None)
        user = cleaned.get("user") or (self.instance.user if editing else None)
        role = cleaned.get("role")
        if place is None or user is None or role is None:
            return cleaned
        try:
            self.check_set(place=place, user=user, role=Role(role), actor=Actor(user=self.request.user))
        except PermissionDenied as denied:
            self.add_error(None, str(denied))
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)
        return cleaned


class MembershipAdminMixin:
    """Membership admins write through the tenancy services and obey the same rules: a membership
    the user may not change is shown read-only, and one they may not remove cannot be deleted."""

    place_field = ""  # "organization" or "project"

    def check_set(self, *, place, user, role: Role, actor: Actor) -> None:
        """The service's check for giving `user` the role `role` in `place`."""
        raise NotImplementedError

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request, form.place_field, form.check_set = request, self.place_field, self.check_set
        return form

    def get_readonly_fields(self, request, obj=None):
        # A membership is a person in a place: editing it changes only the role.
        return [self.place_field, "user"] if obj else []

    def may_change(self, request, obj) -> bool:
        # Keeping the current role is refused only when the member is above the user (or the user
        # may not manage members at all).
        try:
            self.check_set(
                place=getattr(obj, self.place_field), user=obj.user, role=Role(obj.role), actor=Actor(user=request.user)
            )
        except (PermissionDenied, ValidationError):
            return False
        return True

    def may_delete(self, request, obj) -> bool:
        try:
            services.membership_delete_check(membership=obj, actor=Actor(user=request.user))
        except (PermissionDenied, ValidationError):
            return False
        return True

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or self.may_change(request, obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or self.may_delete(request, obj))

    def get_deleted_objects(self, objs, request):
        # The bulk "delete selected" action asks here, not has_delete_permission(obj): a membership
        # listed in perms_needed makes Django refuse the whole deletion.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed = set(perms_needed) | {str(obj) for obj in objs if not self.may_delete(request, obj)}
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        services.membership_delete(membership=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    organization_lookup = "pk"
    view_role = Role.VIEWER
    change_role = Role.ADMIN
    list_display = ["name", "id", "created_at"]
    search_fields = ["name"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.organization_create(name=obj.name, actor=Actor(user=request.user))
        obj.pk = created.pk
        obj.created_at = created.created_at

    def delete_model(self, request, obj):
        services.organization_delete(organization=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class OrganizationMembershipForm(MembershipForm):
    class Meta:
        model = OrganizationMembership
        fields = ["organization", "user", "role"]


@admin.register(OrganizationMembership)
class OrganizationMembershipAdmin(MembershipAdminMixin, OrganizationScopedAdmin):
    form = OrganizationMembershipForm
    place_field = "organization"
    # Members are an ADMIN's business (DESIGN §4); the service refuses removing anyone above them.
    delete_role = Role.ADMIN
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "organization"]

    def check_set(self, *, place, user, role, actor):
        services.organization_membership_check(organization=place, user=user, role=role, actor=actor)

    def save_model(self, request, obj, form, change):
        saved = services.organization_membership_set(
            organization=obj.organization, user=obj.user, role=obj.role, actor=Actor(user=request.user)
        )
        obj.pk = saved.pk


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdmin):
    project_lookup = "pk"
    view_role = Role.VIEWER
    change_role = Role.ADMIN
    delete_role = Role.OWNER
    list_display = ["name", "organization", "id", "created_at"]
    list_select_related = ["organization"]
    search_fields = ["name"]
    readonly_fields = ["id"]
    fields = ["id", "organization", "name", "metadata", "retention_days"]

    def has_add_permission(self, request, *args):
        return request.user.is_superuser or bool(organization_ids_at_least(request, Role.ADMIN))

    def get_readonly_fields(self, request, obj=None):
        return ["id", "organization"] if obj else ["id"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Organization and not request.user.is_superuser:
            kwargs["queryset"] = Organization.objects.filter(id__in=organization_ids_at_least(request, Role.ADMIN))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            self.check_project_write(request, obj)
            obj.save()
            return
        if not request.user.is_superuser and obj.organization_id not in organization_ids_at_least(request, Role.ADMIN):
            raise PermissionDenied("Creating a project needs the ADMIN role in its organization")
        created = services.project_create(organization=obj.organization, name=obj.name, actor=Actor(user=request.user))
        obj.pk = created.pk

    def delete_model(self, request, obj):
        services.project_delete(project=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ProjectMembershipForm(MembershipForm):
    class Meta:
        model = ProjectMembership
        fields = ["project", "user", "role"]


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(MembershipAdminMixin, ProjectScopedAdmin):
    form = ProjectMembershipForm
    place_field = "project"
    view_role = Role.ADMIN
    change_role = Role.ADMIN
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "project__organization"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is get_user_model():
            kwargs["queryset"] = self.pickable_users(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def pickable_users(self, request):
        """Members of the organization of the chosen project (`?project=` or the submitted form), or
        before a project is chosen, of the organizations of the projects the user administers.

        Never people of other organizations: an ADMIN of organization A who is a mere VIEWER in B must
        not be able to hand B's people (B's owner included) a role in A's projects.
        """
        projects = Project.objects.all()
        if not request.user.is_superuser:
            projects = projects.filter(id__in=project_ids_at_least(request, self.change_role))
        chosen = request.POST.get("project") or request.GET.get("project")
        if chosen:
            projects = projects.filter(pk=chosen)
        elif request.user.is_superuser:
            return get_user_model().objects.all()
        organizations = projects.values("organization_id")
        return get_user_model().objects.filter(org_memberships__organization_id__in=organizations).distinct()

    def check_set(self, *, place, user, role, actor):
        services.project_membership_check(project=place, user=user, role=role, actor=actor)

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        saved = services.project_membership_set(
            project=obj.project, user=obj.user, role=obj.role, actor=Actor(user=request.user)
        )
        obj.pk = saved.pk


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["project", "note", "role"]


@admin.register(ApiKey)
class ApiKeyAdmin(ProjectScopedAdmin):
    form = ApiKeyForm
    view_role = Role.ADMIN
    change_role = Role.ADMIN
    list_display = ["public_key", "project", "note", "role", "display_secret_key", "last_used_at", "revoked_at"]
    list_filter = ["role"]
    list_select_related = ["project__organization"]
    readonly_fields = ["public_key", "display_secret_key", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["project", "note", "role"]
        return ["project", "public_key", "display_secret_key", "note", "role", *self.readonly_fields[2:]]

    def get_readonly_fields(self, request, obj=None):
        # A key's project and role are fixed at creation: changing them would silently widen access.
        return [*self.readonly_fields, "project", "role"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # keys are revoked, never deleted, so the audit trail keeps pointing at them

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        if change:
            obj.save(update_fields=["note"])
            return
        created = services.api_key_create(
            project=obj.project, note=obj.note, role=obj.role, actor=Actor(user=request.user)
        )
        obj.pk = created.api_key.pk
        # Held on this request only, for response_add to render: never in the session, the messages
        # cookie (signed, not encrypted) or a log.
        request._created_api_key = created

    def response_add(self, request, obj, post_url_continue=None):
        """The secret is shown once, on the page that answers "Save" itself (not after a redirect)."""
        created = getattr(request, "_created_api_key", None)
        if created is None:
            return super().response_add(request, obj, post_url_continue)
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": "Copy the new API key",
            "opts": opts,
            "api_key": created.api_key,
            "secret_key": created.secret_key,
            "change_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
            "add_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_add"),
            "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        }
        response = TemplateResponse(request, "evalsite/api_key_created.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request, queryset):
        revoked = 0
        for api_key in queryset.select_related("project__organization"):
            if role_for_project_id(request, api_key.project_id) >= Role.ADMIN or request.user.is_superuser:
                services.api_key_revoke(api_key=api_key, actor=Actor(user=request.user))
                revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).")


@admin.register(AuditLog)
class AuditLogAdmin(ProjectScopedAdmin):
    view_role = Role.ADMIN
    list_display = ["created_at", "action", "object_type", "object_id", "actor_user", "actor_api_key", "project"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor_user", "actor_api_key", "project"]
    search_fields = ["object_id", "action"]

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
