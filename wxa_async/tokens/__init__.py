"""Token providers (static, component API) and the stores that share their tokens."""

from ._component import ComponentTokenProvider
from ._protocol import StaticTokenProvider, TokenProvider
from ._redis import RedisTokenStore
from ._stores import MemoryTokenStore, TokenStore

__all__ = [
    "ComponentTokenProvider",
    "MemoryTokenStore",
    "RedisTokenStore",
    "StaticTokenProvider",
    "TokenProvider",
    "TokenStore",
]
