# Registers the platform core's admin pages (Django autodiscovers `<app>.admin`).
import evalsite.tenancy.admin  # noqa: F401
