"""Every error as JSON: ``{"error": "<one clear message>", ...}`` with its status code.

400 the request itself is malformed (``fields`` says which and why); 401 no usable token;
403 the token's user may not do this; 404 no such object; 409 a well-formed request the
service refused in the current state (a closed item, no production prompt pinned, ...);
429 throttled (``retry_after`` seconds).
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class Refused(exceptions.APIException):
    """A service refused a well-formed request (its ValidationError), in its own words."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "refused"


def refused(exc: DjangoValidationError) -> Refused:
    return Refused(" ".join(exc.messages))


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = refused(exc)
    if isinstance(exc, Http404) and str(exc):
        exc = exceptions.NotFound(str(exc))
    if isinstance(exc, DjangoPermissionDenied) and str(exc):
        exc = exceptions.PermissionDenied(str(exc))
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("API request failed", exc_info=exc)
        return Response(
            {
                "error": "The server failed on this request; the failure was logged.",
                "code": "error",
            },
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        body = {"error": "The request is not valid: see fields.", "code": "invalid"}
        body["fields"] = (
            exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        )
    else:
        detail = getattr(exc, "detail", None)
        body = {
            "error": str(detail) if detail is not None else response.status_text,
            "code": detail.code if hasattr(detail, "code") else "error",
        }
        if isinstance(exc, exceptions.Throttled):
            body["retry_after"] = exc.wait
    response.data = body
    return response
