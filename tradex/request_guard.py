"""Refuses, before any view or database query, a request whose path or query string carries
characters no TradeX resource or parameter can contain (invariant 8): NUL, which PostgreSQL text
cannot hold (psycopg refuses the query: "/v2/positions/%00" was a 500), and, in a path, the other
C0 controls. The answer is the API's JSON error: 404 for a path, 422 for a parameter."""
from django.http import JsonResponse

from core.values import has_control_characters


def request_guard(get_response):
    def middleware(request):
        if has_control_characters(request.path_info):
            return JsonResponse({"code": 40410000, "reason": "not_found",
                                 "message": "no resource has control characters in its path"}, status=404)
        if "\x00" in request.META.get("QUERY_STRING", "") or any(
                "\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()):
            return JsonResponse({"code": 42210000, "reason": "invalid_parameter",
                                 "message": "query parameters must not contain NUL characters"}, status=422)
        return get_response(request)

    return middleware
