# Registers the platform core's admin pages (Django autodiscovers `<app>.admin`).
import evalsite.llm.admin  # noqa: F401
import evalsite.tenancy.admin  # noqa: F401
