"""An API client that speaks to /api/public/ with a project key, as the SDK does."""

import base64
import json

from django.test import Client


def basic_auth(public_key: str, secret_key: str) -> str:
    return "Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()


class ApiClient:
    def __init__(self, created_key=None, *, authorization: str | None = None):
        self.client = Client()
        self.key = created_key
        self.project = created_key.api_key.project if created_key else None
        self.authorization = authorization or (
            basic_auth(created_key.public_key, created_key.secret_key) if created_key else None
        )

    def _headers(self, extra):
        headers = dict(extra or {})
        if self.authorization:
            headers.setdefault("Authorization", self.authorization)
        return headers

    def request(self, method: str, path: str, data=None, *, headers=None, content_type="application/json", **params):
        url = path if path.startswith("/") else f"/api/public/{path}"
        body = data if isinstance(data, (bytes, str)) or data is None else json.dumps(data)
        call = getattr(self.client, method.lower())
        if method.upper() in ("GET", "HEAD"):
            return call(url, params or None, headers=self._headers(headers))
        return call(url, body, content_type=content_type, headers=self._headers(headers), QUERY_STRING=_qs(params))

    def get(self, path, **params):
        return self.request("GET", path, **params)

    def post(self, path, data=None, **kw):
        return self.request("POST", path, data, **kw)

    def put(self, path, data=None, **kw):
        return self.request("PUT", path, data, **kw)

    def patch(self, path, data=None, **kw):
        return self.request("PATCH", path, data, **kw)

    def delete(self, path, data=None, **kw):
        return self.request("DELETE", path, data, **kw)


def _qs(params) -> str:
    from urllib.parse import urlencode

    return urlencode(params, doseq=True)
