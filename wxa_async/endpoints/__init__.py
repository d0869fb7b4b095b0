"""The endpoint tables, one module per area of the API, and what a table line is."""

from ._code import CodeEndpoints
from ._component import ComponentApi
from ._media import MediaEndpoints
from ._privacy import PrivacyEndpoints
from ._spec import Auth, BinaryEndpoint, BoundBinaryCall, BoundCall, Endpoint, EndpointSpec
from ._templates import TemplateEndpoints
from ._upload import UploadEndpoint

__all__ = [
    "Auth",
    "BinaryEndpoint",
    "BoundBinaryCall",
    "BoundCall",
    "CodeEndpoints",
    "ComponentApi",
    "Endpoint",
    "EndpointSpec",
    "MediaEndpoints",
    "PrivacyEndpoints",
    "TemplateEndpoints",
    "UploadEndpoint",
]
