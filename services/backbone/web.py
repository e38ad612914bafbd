"""nameko's `@http`, with a web server that answers what no route takes (an unknown path, a method the path
does not take) as a problem, not as werkzeug's HTML page. Every route of a service must use this one
(`services.backbone.http.http`): nameko runs one web server per entrypoint class.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Request, Response

from services.backbone.problems import Problem


class _ProblemWsgiApp(WsgiApp):  # type: ignore[misc]
    """nameko's WSGI app, except that what its router refuses (no such path, a method the path does not
    take) is answered as a problem too, not as werkzeug's HTML page."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ, shallow=True)
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
        except HTTPException as exc:
            return _routing_problem(exc, request)(environ, start_response)
        request.path_values = values  # type: ignore[attr-defined]
        try:
            response = provider.handle_request(request)
        except HTTPException as exc:  # nameko's own handling may raise one too
            response = _routing_problem(exc, request)
        return response(environ, start_response)


def _routing_problem(exc: HTTPException, request: Request) -> Response:
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        allowed = ", ".join(sorted(exc.valid_methods))
        return Problem(405, "Method not allowed", f"{request.method} is not allowed on {request.path}; allowed: {allowed}",
                       rule="method_not_allowed").response(request.path, headers={"Allow": allowed})
    status = exc.code or 400
    if status == 404:
        return Problem(404, "Not found", f"no resource at {request.path}: see /<service>/openapi.json for the routes",
                       rule="not_found").response(request.path)
    return Problem(status, exc.name, exc.description or exc.name, rule=f"http_{status}").response(request.path)


class _ProblemWebServer(WebServer):  # type: ignore[misc]
    def get_wsgi_app(self) -> _ProblemWsgiApp:
        return _ProblemWsgiApp(self)


class _HttpEntrypoint(HttpRequestHandler):  # type: ignore[misc]
    server = _ProblemWebServer()


http = _HttpEntrypoint.decorator
