"""Tells drf-spectacular how API keys authenticate, so /api/schema/ documents Basic auth."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "evalsite.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyBasicAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Project API key: the public key as user name, the secret key as password.",
        }
