"""Prebuilt SQL for the per-job hot path: claim, lease-checked updates, heartbeats.

The statements are Core (not ORM) with bound parameters, built once: building an ORM
UPDATE (and its cache key) per call and loading the row through a session cost several
times the CPU of the database round trip itself. ``job_from_row`` turns a ``RETURNING``
row into a detached ``Job``, as if loaded by a session that has since closed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Table, Update, bindparam, func, update
from sqlalchemy.orm import make_transient_to_detached

from mediavault.jobs.tables import HostSlot, Job
from mediavault.models import JobStatus

__all__ = ["CLAIM", "HEARTBEAT", "RENEW_SLOTS", "job_from_row", "leased_statement"]

_JOBS: Table = Job.__table__  # type: ignore[assignment]
_COLUMNS = tuple(_JOBS.c)
CLAIM = (
    update(_JOBS)
    .where(
        _JOBS.c.id == bindparam("b_id"),
        _JOBS.c.status == JobStatus.QUEUED.value,
        _JOBS.c.next_run_at <= bindparam("b_now"),
        _JOBS.c.cancel_requested.is_(False),
    )
    .values(
        status=JobStatus.RUNNING.value,
        lease_token=bindparam("b_token"),
        lease_expires_at=bindparam("b_expires"),
        heartbeat_at=bindparam("b_now"),
        worker_id=bindparam("b_worker"),
        attempts=_JOBS.c.attempts + 1,
        started_at=func.coalesce(_JOBS.c.started_at, bindparam("b_now")),
        stage=None,
        updated_at=bindparam("b_now"),
    )
    .returning(*_COLUMNS)
)
# A lease token is unique, so "token in (...)" selects exactly the leases still held.
HEARTBEAT = (
    update(_JOBS)
    .where(
        _JOBS.c.lease_token.in_(bindparam("b_tokens", expanding=True)),
        _JOBS.c.status == JobStatus.RUNNING.value,
    )
    .values(heartbeat_at=bindparam("b_now"), lease_expires_at=bindparam("b_expires"))
    .returning(_JOBS.c.id, _JOBS.c.lease_token, _JOBS.c.cancel_requested)
)
_SLOTS: Table = HostSlot.__table__  # type: ignore[assignment]
RENEW_SLOTS = (
    update(_SLOTS)
    .where(_SLOTS.c.job_id.in_(bindparam("b_jobs", expanding=True)))
    .values(lease_expires_at=bindparam("b_expires"))
)
_LEASED: dict[tuple[str, ...], Update] = {}


def leased_statement(keys: tuple[str, ...]) -> Update:
    """``UPDATE jobs SET <keys> WHERE id, lease_token match AND running RETURNING *``."""
    stmt = _LEASED.get(keys)
    if stmt is None:
        stmt = (
            update(_JOBS)
            .where(
                _JOBS.c.id == bindparam("b_id"),
                _JOBS.c.lease_token == bindparam("b_token"),
                _JOBS.c.status == JobStatus.RUNNING.value,
            )
            .values({_JOBS.c[key]: bindparam(f"v_{key}") for key in keys})
            .returning(*_COLUMNS)
        )
        _LEASED[keys] = stmt
    return stmt


def job_from_row(row: Row[Any] | None) -> Job | None:
    """A detached ``Job`` (as if loaded and its session closed) from a full jobs row."""
    if row is None:
        return None
    job = Job(**row._asdict())
    make_transient_to_detached(job)
    return job
