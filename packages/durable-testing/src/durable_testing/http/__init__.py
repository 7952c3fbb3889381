"""The Lambda durable execution API over HTTP, served by a ``LocalService``.

``LambdaApiServer(service).start()`` answers boto3's ``lambda`` client (and so
``LambdaBackend``, AWS's SDK and ``durable callback --endpoint``) on 127.0.0.1.
"""

from durable_testing.http.errors import ApiError
from durable_testing.http.server import (
    DEFAULT_MAX_BODY_BYTES,
    OPERATIONS,
    FaultSwitch,
    LambdaApiServer,
)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "OPERATIONS", "ApiError", "FaultSwitch", "LambdaApiServer"]
