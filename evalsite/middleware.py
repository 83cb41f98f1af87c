"""Requests no page, admin view or API route can serve, refused once for the whole site.

A NUL character in the path or the query string: no stored id or name holds one (PostgreSQL text
cannot), and PostgreSQL refuses it as a query parameter, so any view that looked it up answered a
500. Such a request gets a 400 naming the parameter (the URL pattern's name for a path segment),
as JSON on the API.
"""

from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponseBadRequest, JsonResponse
from django.urls import Resolver404, resolve

from evalsite.api.middleware import API_PREFIX

NUL_MESSAGE = "must not contain NUL (\\u0000) characters"


def nul_parameters(request) -> list[str]:
    """The path and query parameters of `request` that hold a NUL character."""
    names = []
    if "\x00" in request.path_info:
        try:
            kwargs = resolve(request.path_info).kwargs
        except Resolver404:
            kwargs = {}
        names += [name for name, value in kwargs.items() if "\x00" in str(value)] or ["path"]
    try:
        query = request.GET.lists()
    except SuspiciousOperation:  # too many fields: the view's own parsing answers that
        query = []
    for name, values in query:
        if "\x00" in name or any("\x00" in value for value in values):
            names.append(name.replace("\x00", "\\u0000"))
    return names


class RefuseNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        names = nul_parameters(request)
        if not names:
            return self.get_response(request)
        details = {name: [NUL_MESSAGE] for name in names}
        message = "; ".join(f"{name}: {NUL_MESSAGE}" for name in names)
        if request.path_info.startswith(API_PREFIX):
            body = {"message": f"Invalid request data: {message}", "error": "InvalidRequestError", "details": details}
            return JsonResponse(body, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
