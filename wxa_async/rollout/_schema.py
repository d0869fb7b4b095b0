"""The store's tables (SQLAlchemy Core) and the schema version they make up.

One code path for every backend: SQLite (aiosqlite), PostgreSQL (asyncpg) and,
through the same statements, MySQL. Times are float seconds of the rollout's clock.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["SCHEMA_VERSION", "apps", "meta", "metadata", "quota", "rollouts", "transitions"]

#: Bumped whenever the tables change; ``_store.MIGRATIONS`` upgrades older stores.
SCHEMA_VERSION = 1

metadata = MetaData()

meta = Table(
    "wxa_rollout_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

rollouts = Table(
    "wxa_rollouts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("plan", Text, nullable=False),  # RolloutPlan.to_data() as JSON
    Column("state", String(32), nullable=False),
    Column("approved", Boolean, nullable=False, default=False),
    Column("rollback_version", BigInteger, nullable=True),  # a chosen app_version
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

apps = Table(
    "wxa_rollout_apps", metadata,
    Column("rollout_id", Integer, ForeignKey("wxa_rollouts.id"), primary_key=True),
    Column("appid", String(64), primary_key=True),
    Column("state", String(32), nullable=False),
    Column("ext_json", Text, nullable=False),
    Column("auditid", BigInteger, nullable=True),
    Column("submitted_at", Float, nullable=True),
    Column("gray_percentage", Integer, nullable=False, default=0),
    Column("errcode", Integer, nullable=True),
    Column("errmsg", Text, nullable=True),
    Column("retryable", Boolean, nullable=True),
    Column("reason", Text, nullable=True),  # audit rejection reason
    Column("screenshots", Text, nullable=True),  # media ids, '|'-separated
    # Intent before every mutation, cleared with its outcome: an intent found after a
    # crash is reconciled through reads before anything is re-issued.
    Column("intent", String(32), nullable=True),
    Column("intent_ref", Text, nullable=True),  # JSON: what the reads compare against
    Column("intent_at", Float, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),  # of the current step
    Column("submits", Integer, nullable=False, default=0),
    Column("releases", Integer, nullable=False, default=0),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires", Float, nullable=True),
    Column("next_at", Float, nullable=True),  # due for work; NULL: waits for an event
    Column("hint", String(32), nullable=True),  # why it was woken early ("push")
    Column("updated_at", Float, nullable=False),
)
Index("ix_wxa_rollout_apps_state", apps.c.rollout_id, apps.c.state)
Index("ix_wxa_rollout_apps_due", apps.c.rollout_id, apps.c.next_at)

transitions = Table(
    "wxa_rollout_transitions", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("rollout_id", Integer, ForeignKey("wxa_rollouts.id"), nullable=False),
    Column("appid", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("from_state", String(32), nullable=True),
    Column("to_state", String(32), nullable=False),
    Column("detail", Text, nullable=True),
)
Index("ix_wxa_rollout_transitions_at", transitions.c.rollout_id, transitions.c.at)
Index("ix_wxa_rollout_transitions_app", transitions.c.rollout_id, transitions.c.appid)

# The platform's audit quota is shared by every rollout (and every worker) of a store:
# one budget row, refreshed from query_quota, spent one submission at a time.
quota = Table(
    "wxa_rollout_quota", metadata,
    Column("key", String(64), primary_key=True),
    Column("rest", Integer, nullable=False),
    Column("read_at", Float, nullable=False),
)
