"""The `fieldValidation` directive of a write, and the warnings it sends back.

Held per request in context variables, because the fields a schema drops are only
known deep in admission (crds.py) while the directive and the response headers belong
to the HTTP layer (api.py). Upstream (apiserver pkg/endpoints/handlers, v1.36): Strict
fails the write with 400 BadRequest, Warn (the default) drops the fields and names
each in a `Warning: 299 - "unknown field \\"path\\""` header, Ignore drops them
silently. Only custom objects are checked here; built-in kinds keep unknown fields.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

from .errors import ApiError

DIRECTIVES = ("Ignore", "Warn", "Strict")
_directive: ContextVar[str] = ContextVar("field_validation", default="Warn")
_patching: ContextVar[bool] = ContextVar("field_validation_patch", default=False)
_warnings: ContextVar[list[str] | None] = ContextVar("field_validation_warnings", default=None)


Tokens = tuple[Token[str], Token[bool], Token["list[str] | None"]]


def begin(directive: str | None, patching: bool) -> Tokens:
    """Set up one request; returns what end() needs to restore."""
    chosen = directive or "Warn"
    if chosen not in DIRECTIVES:
        raise ApiError(
            "BadRequest",
            f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{chosen}"',
        )
    return _directive.set(chosen), _patching.set(patching), _warnings.set([])


def end(tokens: Tokens) -> list[str]:
    """The request's warnings; restores the context."""
    found = list(_warnings.get() or [])
    _directive.reset(tokens[0])
    _patching.reset(tokens[1])
    _warnings.reset(tokens[2])
    return found


def unknown_fields(kind: str, version: str, paths: list[str]) -> None:
    """Report fields a write sent that the schema does not know, per the directive."""
    if not paths:
        return
    listed = ", ".join(f'unknown field "{p}"' for p in paths)
    directive = _directive.get()
    if directive == "Strict":
        if _patching.get():
            raise ApiError("BadRequest", f"strict decoding error: {listed}")
        raise ApiError(
            "BadRequest",
            f'{kind} in version "{version}" cannot be handled as a {kind}: '
            f"strict decoding error: {listed}",
        )
    collected = _warnings.get()
    if directive == "Warn" and collected is not None:
        collected.extend(f'unknown field "{p}"' for p in paths)
