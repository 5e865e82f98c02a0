"""Prebuilt SQL for the per-job hot path: claim, lease-checked updates, heartbeats.

The statements are Core (not ORM) with bound parameters, built once: building an ORM
UPDATE (and its cache key) per call and loading the row through a session cost several
times the CPU of the database round trip itself. ``job_from_row`` turns a ``RETURNING``
row into a detached ``Job``, as if loaded by a session that has since closed. Claims and
completions also come in batch forms (``claim_plain``, ``finish_many``): one statement
and one commit for several jobs, each with its own lease token.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Table,
    Update,
    bindparam,
    case,
    func,
    or_,
    update,
)
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class

from mediavault.jobs.tables import HostSlot, Job
from mediavault.models import JobStatus

__all__ = [
    "CLAIM",
    "HEARTBEAT",
    "RENEW_SLOTS",
    "batch_size",
    "claim_plain",
    "finish_many",
    "job_from_row",
    "job_from_values",
    "leased_statement",
]

_JOBS: Table = Job.__table__  # type: ignore[assignment]
_COLUMNS = tuple(_JOBS.c)


def _claim(
    ids: ColumnElement[bool], token: ColumnElement[Any], *where: ColumnElement[bool]
) -> Update:
    return (
        update(_JOBS)
        .where(
            ids,
            _JOBS.c.status == JobStatus.QUEUED.value,
            _JOBS.c.next_run_at <= bindparam("b_now"),
            _JOBS.c.cancel_requested.is_(False),
            *where,
        )
        .values(
            status=JobStatus.RUNNING.value,
            lease_token=token,
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


CLAIM = _claim(_JOBS.c.id == bindparam("b_id"), bindparam("b_token"))
_CLAIM_PLAIN: dict[tuple[int, frozenset[str]], Update] = {}


def claim_plain(count: int, plain_kinds: frozenset[str]) -> Update:
    """``CLAIM`` of ``count`` jobs at once (``b_id0``… with tokens ``b_token0``…), limited
    to jobs that need no host slot: no host, or a kind in ``plain_kinds``."""
    key = (count, plain_kinds)
    stmt = _CLAIM_PLAIN.get(key)
    if stmt is None:
        ids, tokens = _binds("b_id", count), _binds("b_token", count)
        token = _per_job(ids, tokens)  # each job its own token
        id_match = _JOBS.c.id == ids[0] if count == 1 else _JOBS.c.id.in_(ids)
        needs_no_slot = or_(_JOBS.c.host.is_(None), _JOBS.c.kind.in_(sorted(plain_kinds)))
        stmt = _CLAIM_PLAIN[key] = _claim(id_match, token, needs_no_slot)
    return stmt


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
_FINISH: dict[int, Update] = {}


def finish_many(count: int) -> Update:
    """End ``count`` leased, running jobs with one statement (lease-checked per job).

    Sets ``status`` (``v_status``), ``finished_at`` and ``updated_at`` (``v_now``), each
    job's own ``result`` (``b_result0``…), and clears the lease, as ``complete`` does;
    job ``b_id0``… must hold lease ``b_token0``…. Returns the jobs it ended.
    """
    stmt = _FINISH.get(count)
    if stmt is None:
        ids, tokens = _binds("b_id", count), _binds("b_token", count)
        results = _binds("b_result", count, _JOBS.c.result.type)
        stmt = _FINISH[count] = (
            update(_JOBS)
            .where(
                _JOBS.c.id == ids[0] if count == 1 else _JOBS.c.id.in_(ids),
                _JOBS.c.lease_token == _per_job(ids, tokens),
                _JOBS.c.status == JobStatus.RUNNING.value,
            )
            .values(
                status=bindparam("v_status"),
                finished_at=bindparam("v_now"),
                updated_at=bindparam("v_now"),
                result=_per_job(ids, results),
                lease_token=None,
                lease_expires_at=None,
                speed=None,
                eta=None,
                stage=None,
            )
            .returning(*_COLUMNS)
        )
    return stmt


def batch_size(count: int) -> int:
    """The statement size that serves ``count`` jobs: the next power of two.

    Batch statements come in a few sizes only (fewer to compile, and each is used often
    enough for PostgreSQL to keep it prepared); the caller repeats its last job's
    parameters to fill the statement, which changes nothing.
    """
    return 1 << max(0, count - 1).bit_length()


def _binds(name: str, count: int, type_: Any = None) -> list[BindParameter[Any]]:
    return [bindparam(f"{name}{i}", type_=type_) for i in range(count)]


def _per_job(ids: list[BindParameter[Any]], values: list[BindParameter[Any]]) -> Any:
    """``values[i]`` for the row whose id is ``ids[i]`` (the value itself for one job)."""
    if len(ids) == 1:
        return values[0]
    return case(*((_JOBS.c.id == id_, value) for id_, value in zip(ids, values, strict=True)))


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
    return job_from_values(row._asdict())


_NEW_JOB = manager_of_class(Job).new_instance


def job_from_values(values: dict[str, Any]) -> Job:
    """A detached ``Job`` from the values of all its columns, by column name.

    The values go straight into the instance's ``__dict__``, as a load does, without
    the attribute events of ``Job(**values)``.
    """
    job: Job = _NEW_JOB()
    job.__dict__.update(values)
    make_transient_to_detached(job)
    return job
