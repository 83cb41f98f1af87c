"""Who is acting: a signed-in user or an API key. Services take one, so the audit log can name it."""

from dataclasses import dataclass

from evalsite.tenancy.models import ApiKey


@dataclass(frozen=True)
class Actor:
    user: object | None = None
    api_key: ApiKey | None = None

    @classmethod
    def from_request(cls, request) -> "Actor":
        if isinstance(getattr(request, "auth", None), ApiKey):
            return cls(api_key=request.auth)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return cls(user=user)
        return cls()

    def __str__(self) -> str:
        if self.api_key is not None:
            return f"key {self.api_key.public_key}"
        if self.user is not None:
            return f"user {self.user}"
        return "system"


SYSTEM = Actor()
