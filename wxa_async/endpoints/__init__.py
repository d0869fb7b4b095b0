"""The endpoint tables, one module per area of the API, and what a table line is."""

from ._code import CodeEndpoints
from ._spec import BinaryEndpoint, BoundBinaryCall, BoundCall, Endpoint, EndpointSpec

__all__ = [
    "BinaryEndpoint",
    "BoundBinaryCall",
    "BoundCall",
    "CodeEndpoints",
    "Endpoint",
    "EndpointSpec",
]
