"""API errors rendered as `Status` objects, the shape every Kubernetes client parses."""

from __future__ import annotations

from typing import Any

REASON_CODES = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "NotAcceptable": 406,
    "AlreadyExists": 409,
    "Conflict": 409,
    "Gone": 410,
    "Expired": 410,
    "UnsupportedMediaType": 415,
    "Invalid": 422,
    "TooManyRequests": 429,
    "ServiceUnavailable": 503,
    "InternalError": 500,
    "Timeout": 504,
}


class ApiError(Exception):
    def __init__(
        self,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.details = details
        self.code = code or REASON_CODES.get(reason, 500)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _qualified(kind_plural: str, group: str) -> str:
    return f"{kind_plural}.{group}" if group else kind_plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    what = _qualified(plural, group)
    return ApiError(
        "NotFound",
        f'{what} "{name}" not found',
        {"name": name, "group": group, "kind": plural},
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    what = _qualified(plural, group)
    return ApiError(
        "AlreadyExists",
        f'{what} "{name}" already exists',
        {"name": name, "group": group, "kind": plural},
    )


def conflict(plural: str, group: str, name: str) -> ApiError:
    what = _qualified(plural, group)
    return ApiError(
        "Conflict",
        f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "group": group, "kind": plural},
    )


class Causes:
    """Collects field errors, then raises one 422 like upstream validation does."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def required(self, path: str) -> None:
        self.items.append(
            {"reason": "FieldValueRequired", "message": "Required value", "field": path}
        )

    def invalid(self, path: str, value: Any, detail: str) -> None:
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        self.items.append(
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {shown}: {detail}",
                "field": path,
            }
        )

    def forbidden(self, path: str, detail: str) -> None:
        self.items.append(
            {"reason": "FieldValueForbidden", "message": f"Forbidden: {detail}", "field": path}
        )

    def unsupported(self, path: str, value: Any, allowed: list[str]) -> None:
        listed = ", ".join(f'"{a}"' for a in allowed)
        self.items.append(
            {
                "reason": "FieldValueNotSupported",
                "message": f'Unsupported value: "{value}": supported values: {listed}',
                "field": path,
            }
        )

    def raise_if_any(self, kind: str, group: str, name: str) -> None:
        if not self.items:
            return
        what = f"{kind}.{group}" if group else kind
        listed = ", ".join(f"{c['field']}: {c['message']}" for c in self.items)
        if len(self.items) > 1:
            listed = f"[{listed}]"
        raise ApiError(
            "Invalid",
            f'{what} "{name}" is invalid: {listed}',
            {"name": name, "group": group, "kind": kind, "causes": self.items},
        )
