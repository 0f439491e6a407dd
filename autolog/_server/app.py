"""``create_app(tracking_uri, token=None)``: the REST API, its errors as JSON, the bearer-token guard, the UI.

The server only reads the store, except for the tags, assessments and labeling answers a person makes in the
UI, and the traces OpenTelemetry exporters send to ``POST /v1/traces`` (``otlp_ingest``).
Every value a trace recorded is sent as JSON data; the UI shows it as text, never as HTML.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from autolog._client import Client
from autolog._errors import AutologError, InvalidArgumentError, InvalidFilterError, ResourceDoesNotExist

STATIC = Path(__file__).resolve().parent / "static"
# Paths the browser loads before it can send a token (the page that asks for it, its scripts, the API docs
# page); they hold no data of the store. Everything under /api and /v1 needs the token when one is set.
_OPEN_PATHS = ("/", "/index.html", "/docs", "/openapi.json", "/favicon.ico")
_OPEN_PREFIXES = ("/static/", "/docs-assets/")


def create_app(tracking_uri: str | None = None, *, token: str | None = None, client: Client | None = None) -> FastAPI:
    """The ASGI app over the store at ``tracking_uri`` (or over ``client``); ``token``: required bearer token."""
    from autolog._server import api_labeling, api_traces, api_versions, otlp_ingest

    owned = client is None
    served = client if client is not None else Client(tracking_uri)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:  # a client the app made is the app's to close: its worker and its counters go with it
            served.shutdown()

    app = FastAPI(title="autolog", summary="Traces, versions, evaluations and human review of GenAI apps.",
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.client = served
    app.state.model_names = {}  # model id -> name, see api_traces.model_names
    if token:
        app.middleware("http")(_bearer_guard(token))
    app.middleware("http")(_no_sniffing)
    app.add_exception_handler(AutologError, _error_response)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_response)  # type: ignore[arg-type]
    routers = (
        api_traces.router,
        api_versions.router,
        api_labeling.router,
    )
    for router in routers:
        app.include_router(router, prefix="/api")
    app.include_router(otlp_ingest.router)  # POST /v1/traces: where OTLP exporters send by default, as MLflow's
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _mount_api_docs(app)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    return app


def _mount_api_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle-v2 package (5.x: FastAPI writes OpenAPI 3.1). FastAPI's
    default loads it from a CDN, which a machine without internet (or behind a strict proxy) never reaches."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="autolog REST API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")


def _bearer_guard(token: str) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    expected = f"Bearer {token}".encode()

    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
            return await call_next(request)
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):  # constant time: the token is not guessed byte by byte
            return JSONResponse({"error_code": "UNAUTHENTICATED",
                                 "message": "this server wants AUTOLOG_UI_TOKEN as 'Authorization: Bearer <token>'"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    return guard


async def _no_sniffing(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    # Recorded values are JSON data: a browser must never guess another type (HTML) for a response.
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _validation_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A missing or mistyped parameter or body field: 400 naming each one (FastAPI's default is a bare 422)."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return JSONResponse({"error_code": "INVALID_PARAMETER_VALUE", "message": "; ".join(problems)}, status_code=400)


def _error_response(request: Request, exc: AutologError) -> JSONResponse:
    """autolog's errors as MLflow-style JSON: 404 for unknown ids, 400 for bad input (a filter's position too)."""
    body: dict[str, object] = {"error_code": "INTERNAL_ERROR", "message": str(exc)}
    status = 500
    if isinstance(exc, ResourceDoesNotExist):
        body["error_code"], status = "RESOURCE_DOES_NOT_EXIST", 404
    elif isinstance(exc, InvalidFilterError):
        body.update(error_code="INVALID_PARAMETER_VALUE", position=exc.position)
        status = 400
    elif isinstance(exc, (InvalidArgumentError, ValueError)):
        body["error_code"], status = "INVALID_PARAMETER_VALUE", 400
    return JSONResponse(body, status_code=status)
