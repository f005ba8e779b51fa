"""Engine, sessions and the column types every model shares."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Field, Session, SQLModel

# Constraint names must be predictable so that Alembic can alter them in SQLite batch mode.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite would hand back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given; use an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
MONEY = sa.Numeric(12, 2)


class utc_date(FunctionElement[Any]):  # noqa: N801  (reads as the SQL function it is)
    """The UTC calendar day of a UTCDateTime column, for grouping by day in SQL."""

    type = sa.Date()
    inherit_cache = True


@compiles(utc_date, "sqlite")
def _utc_date_sqlite(element: utc_date, compiler: Any, **kw: Any) -> str:
    # SQLite holds UTC as naive ISO text, so its date() is already the UTC day.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_date, "postgresql")
def _utc_date_postgresql(element: utc_date, compiler: Any, **kw: Any) -> str:
    # Not a plain cast: that would use the session's time zone.
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


class utc_week(FunctionElement[Any]):  # noqa: N801  (reads as the SQL function it is)
    """The Monday of the UTC week of a UTCDateTime column (or of a DATE), for weekly rollups."""

    type = sa.Date()
    inherit_cache = True


@compiles(utc_week, "sqlite")
def _utc_week_sqlite(element: utc_week, compiler: Any, **kw: Any) -> str:
    # The coming Sunday (the day itself on a Sunday), then back to its Monday.
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(utc_week, "postgresql")
def _utc_week_postgresql(element: utc_week, compiler: Any, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    [argument] = element.clauses.clauses
    # A DATE has no time zone; a timestamp is taken to UTC first (a plain cast would use the
    # session's time zone).
    if isinstance(argument.type, sa.Date):
        return f"CAST(date_trunc('week', CAST({moment} AS TIMESTAMP)) AS DATE)"
    return f"CAST(date_trunc('week', timezone('UTC', {moment})) AS DATE)"


class days_between(FunctionElement[Any]):  # noqa: N801  (reads as the SQL function it is)
    """end - start in days (a float) for two UTCDateTime columns."""

    type = sa.Float()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end}) - ({start})) / 86400.0)"


def enum_type(enum_cls: type[enum.Enum]) -> sa.Enum:
    """Store an enum as its value in a plain VARCHAR, so adding a member needs no DDL."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def updated_at_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


def money_field(*, nullable: bool = True, default: Decimal | None = None) -> Any:
    return Field(default=default, sa_type=MONEY, nullable=nullable)


def make_engine(url: str, **kwargs: Any) -> Engine:
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # The default 2 MB page cache thrashes on lists of 100k prospects; read through mmap too.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


def get_engine() -> Engine:
    return current_app.extensions["outreach"].engine


def db_session() -> Session:
    """The session of the current request or CLI command, closed when its app context ends."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    return g.db_session


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


T = TypeVar("T")

# PostgreSQL's SQLSTATE for a transaction it aborted to break a deadlock.
DEADLOCK_DETECTED = "40P01"
DEADLOCK_ATTEMPTS = 4

log = logging.getLogger(__name__)


def retry_deadlocks(work: Callable[[], T], attempts: int = DEADLOCK_ATTEMPTS) -> T:
    """Run `work`, a whole transaction, again when PostgreSQL aborted it to break a deadlock.

    The rollup triggers upsert shared tally rows in whatever order a transaction's rows come,
    so two workers storing at once can wait on each other; PostgreSQL then aborts one. That
    one's work was rolled back entirely and is safe to repeat."""
    attempt = 1
    while True:
        try:
            return work()
        except sa.exc.DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) != DEADLOCK_DETECTED or attempt == attempts:
                raise
            attempt += 1
            log.warning("deadlock, repeating the transaction (attempt %d)", attempt)


def claim_rows(
    session: Session,
    model: type[SQLModel],
    condition: sa.ColumnElement[bool],
    order_by: tuple[Any, ...],
    limit: int,
    values: dict[str, Any],
) -> list[int]:
    """Take up to `limit` rows matching `condition` for this process, and commit the claim.

    Several processes may claim at once: PostgreSQL skips rows another is locking
    (`FOR UPDATE SKIP LOCKED`), and on both engines the update repeats the condition, so a
    row another process changed in between is not taken twice. SQLite locks nothing while it
    selects: when another process took every candidate in between, this looks again, so that
    an empty claim always means nothing matches (callers stop there)."""
    table_id = model.id  # type: ignore[attr-defined]
    while True:
        candidates = list(
            session.exec(
                sa.select(table_id)
                .where(condition)
                .order_by(*order_by)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if not candidates:
            session.rollback()
            return []
        claimed = sorted(
            session.execute(
                sa.update(model)
                .where(table_id.in_(candidates), condition)
                .values(**values)
                .returning(table_id)
                .execution_options(synchronize_session=False)
            ).scalars()
        )
        session.commit()
        if claimed:
            return claimed
