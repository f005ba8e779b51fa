"""What every API resource shares: authentication, errors, pagination and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Annotated, Any, TypeVar

from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask_login import current_user
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel, Field, PlainSerializer, ValidationError
from werkzeug.wrappers import Response

from outreach.auth.models import Role, User
from outreach.auth.services import user_for_token
from outreach.db import db_session
from outreach.validation import MAX_INT, nul_field

API_PREFIX = "/api/v1"
API_SECURITY_SCHEMES = {"bearer": {"type": "http", "scheme": "bearer"}}

F = TypeVar("F", bound=Callable[..., Any])

# Money goes over the wire as a JSON number, never as a string.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable reason, e.g. validation_error, not_found.")
    message: str
    fields: dict[str, str] = Field(
        default_factory=dict, description="Problems with single input fields, by field name."
    )


class ErrorResponse(BaseModel):
    error: ErrorDetail


class PageQuery(BaseModel):
    page: int = Field(default=1, ge=1, le=MAX_INT)
    per_page: int = Field(default=50, ge=1, le=500)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


class ApiError(Exception):
    """Raised by a resource to answer with the error shape."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """pydantic's error list as {"field": "message"}; nested fields are dotted."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "body"
        fields.setdefault(name, error["msg"].removeprefix("Value error, "))
    return fields


def validation_error_response(exc: ValidationError) -> Response:
    fields = field_errors(exc)
    response = jsonify(
        error_body("validation_error", "The request has invalid or missing fields.", fields)
    )
    response.status_code = 422
    return response


# Every operation may answer these; 400 and 415 come from _readable_body, before validation.
ERROR_RESPONSES: dict[int, type[BaseModel]] = {
    400: ErrorResponse,
    401: ErrorResponse,
    403: ErrorResponse,
    404: ErrorResponse,
    415: ErrorResponse,
    422: ErrorResponse,
}


def api_blueprint(name: str, import_name: str) -> APIBlueprint:
    """An API blueprint under /api/v1 whose every route needs a bearer token."""
    blueprint = APIBlueprint(
        name,
        import_name,
        url_prefix=API_PREFIX,
        abp_security=[{"bearer": []}],
        abp_responses=ERROR_RESPONSES,
    )
    blueprint.before_request(_authenticate)
    blueprint.before_request(_readable_body)
    blueprint.before_request(_no_nul_characters)
    return blueprint


def _bearer_user() -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_token(db_session(), token.strip())


def _authenticate() -> Response | None:
    user = _bearer_user()
    if user is None:
        message = (
            "The bearer token is not valid."
            if request.headers.get("Authorization")
            else "Send an API token as 'Authorization: Bearer <token>'."
        )
        response = jsonify(error_body("unauthorized", message))
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="outreach"'
        return response
    g.api_user = user
    return None


BODY_METHODS = {"POST", "PUT", "PATCH"}
BODY_TYPES = {"application/json", "multipart/form-data"}


def _readable_body() -> Response | None:
    """Say plainly when a body is not JSON, before validation reports it as a wrong shape."""
    if request.method not in BODY_METHODS or not request.content_length:
        return None
    if request.mimetype not in BODY_TYPES:
        response = jsonify(
            error_body("unsupported_media_type", "Send the body as JSON (application/json).")
        )
        response.status_code = 415
        return response
    if request.mimetype == "application/json" and request.get_json(silent=True) is None:
        response = jsonify(error_body("bad_request", "The request body is not valid JSON."))
        response.status_code = 400
        return response
    return None


def request_nul_field() -> str | None:
    """The query, form or JSON field of this request that holds a NUL character, if any."""
    pairs = [*request.args.items(multi=True), *request.form.items(multi=True)]
    field = next((str(key) for key, value in pairs if "\x00" in f"{key}{value}"), None)
    if field is None and request.is_json:
        field = nul_field(request.get_json(silent=True))
    return field


def _no_nul_characters() -> Response | None:
    """Refuse NUL characters in any text with a clear 422 rather than a database error."""
    field = request_nul_field()
    if field is None:
        return None
    message = "Text may not contain NUL characters (\\u0000)."
    response = jsonify(error_body("validation_error", message, {field: message}))
    response.status_code = 422
    return response


def api_user() -> User:
    return g.api_user


def require_role(*roles: Role) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not api_user().has_role(*roles):
                allowed = ", ".join(role.value for role in roles)
                raise ApiError(403, "forbidden", f"This needs one of the roles: {allowed}.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def dump(model: BaseModel, status: int = 200) -> tuple[dict[str, Any], int]:
    return model.model_dump(mode="json"), status


api = api_blueprint("api", __name__)


class MeResponse(BaseModel):
    id: int
    email: str
    name: str
    role: Role


@api.get("/me", responses={200: MeResponse}, summary="The user the token belongs to")
def me() -> tuple[dict[str, Any], int]:
    user = api_user()
    return dump(MeResponse(id=user.id, email=user.email, name=user.name, role=user.role))


docs = Blueprint("api_docs", __name__)


@docs.get(f"{API_PREFIX}/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3 document, for signed-in users and API tokens alike."""
    if not current_user.is_authenticated and _bearer_user() is None:
        response = jsonify(error_body("unauthorized", "Sign in or send an API token."))
        response.status_code = 401
        return response
    return jsonify(current_app.api_doc)


def _handle_api_error(exc: ApiError) -> tuple[Response, int]:
    return jsonify(error_body(exc.code, exc.message, exc.fields)), exc.status


def init_app(app: Flask) -> None:
    app.register_blueprint(docs)
    app.register_error_handler(ApiError, _handle_api_error)
    app.extensions["api_blueprints"] = {"api_docs"}


def register(app: Flask, blueprint: APIBlueprint) -> None:
    """Add an API blueprint; its routes skip the browser login and CSRF checks."""
    from outreach import csrf

    app.register_api(blueprint)
    csrf.exempt(blueprint)
    app.extensions["api_blueprints"].add(blueprint.name)
