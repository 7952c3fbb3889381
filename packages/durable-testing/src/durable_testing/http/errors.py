"""The Lambda API's errors as the server answers them, so botocore raises the right ``ClientError``.

rest-json services name the error in the ``x-amzn-errortype`` header and in the body's
``__type``; botocore reads the code from there and the message from ``message``. The
HTTP status of each code is the one boto3's service model declares for it.
"""

from __future__ import annotations

from durable_core.errors import CheckpointError

from durable_testing.http.shapes import lambda_model

__all__ = [
    "ApiError",
    "from_checkpoint_error",
    "invalid_parameter",
    "not_found",
]


class ApiError(Exception):
    """An error answer: the model's error ``code``, its HTTP status, and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status: int = lambda_model().shape_for(code).metadata["error"]["httpStatusCode"]

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "message": self.message}


def invalid_parameter(message: str) -> ApiError:
    return ApiError("InvalidParameterValueException", message)


def not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", message)


def from_checkpoint_error(exc: CheckpointError) -> ApiError:
    """The answer for a checkpoint rule the service's backend enforced (stale token, bad update)."""
    code = exc.error_code or "InvalidParameterValueException"
    return ApiError(code, str(exc))
