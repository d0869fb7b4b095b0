"""The rollout tests' PostgreSQL server (started on loopback; fails rather than skips
under CI) serves the dashboard's PostgreSQL test too."""

from tests.rollout.conftest import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]
