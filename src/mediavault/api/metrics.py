"""Prometheus metrics: HTTP latency observed here, job/storage state read from the DB.

The database is the truth shared by every API and worker process, so job counts, queue
depth, durations, bytes and storage are computed from it at scrape time (cheap
aggregate queries) instead of per-process counters that would disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from mediavault.jobs.tables import Job, MediaFile, WebhookDelivery
from mediavault.models import JobStatus

if TYPE_CHECKING:
    from mediavault.api.state import Services

__all__ = ["CONTENT_TYPE", "JOB_DURATION_BUCKETS", "Metrics", "job_duration_seconds"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JOB_DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)
_HTTP_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


def job_duration_seconds(dialect: str) -> ColumnElement[Any]:
    """SQL expression: seconds between a job's start and finish, on SQLite or PostgreSQL."""
    if dialect == "sqlite":
        return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0
    return func.extract("epoch", Job.finished_at - Job.started_at)


class _StateCollector(Collector):
    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        with self.services.db.sessionmaker() as session:
            yield from self._jobs(session)
            yield self._durations(session)
            yield from self._volumes(session)
            yield self._deliveries(session)

    def _jobs(self, session: Session) -> Iterable[Metric]:
        counts = session.execute(
            select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
        ).all()
        by_status = GaugeMetricFamily(
            "mediavault_jobs", "Jobs in the store by kind and status", labels=["kind", "status"]
        )
        totals = dict.fromkeys(JobStatus, 0)
        for kind, status, count in counts:
            by_status.add_metric([kind, status], float(count))
            if status in totals:
                totals[JobStatus(status)] += int(count)
        yield by_status
        yield GaugeMetricFamily(
            "mediavault_jobs_in_flight", "Jobs running now", value=totals[JobStatus.RUNNING]
        )
        yield GaugeMetricFamily(
            "mediavault_queue_depth", "Jobs waiting to run", value=totals[JobStatus.QUEUED]
        )

    def _durations(self, session: Session) -> Metric:
        duration = job_duration_seconds(session.get_bind().dialect.name)
        finished = (Job.started_at.is_not(None), Job.finished_at.is_not(None))
        columns = [func.count(), func.coalesce(func.sum(duration), 0.0)]
        columns += [
            func.sum(case((duration <= bound, 1), else_=0)) for bound in JOB_DURATION_BUCKETS
        ]
        row = session.execute(select(*columns).where(*finished)).one()
        count, total, *cumulative = row
        buckets = [
            (str(b), float(c or 0)) for b, c in zip(JOB_DURATION_BUCKETS, cumulative, strict=True)
        ]
        buckets.append(("+Inf", float(count)))
        family = HistogramMetricFamily(
            "mediavault_job_duration_seconds", "Wall time of finished jobs", labels=[]
        )
        family.add_metric([], buckets, float(total or 0.0))
        return family

    def _volumes(self, session: Session) -> Iterable[Metric]:
        downloaded = session.scalar(
            select(func.coalesce(func.sum(Job.downloaded_bytes), 0)).where(
                Job.status == JobStatus.COMPLETED, Job.kind == "download"
            )
        )
        yield CounterMetricFamily(
            "mediavault_downloaded_bytes",
            "Bytes fetched by completed downloads",
            value=float(downloaded or 0),
        )
        stored = session.execute(
            select(func.count(), func.coalesce(func.sum(MediaFile.size), 0))
        ).one()
        yield GaugeMetricFamily(
            "mediavault_storage_used_bytes", "Bytes of media in the archive", value=float(stored[1])
        )
        yield GaugeMetricFamily(
            "mediavault_media_files", "Files in the archive", value=float(stored[0])
        )

    def _deliveries(self, session: Session) -> Metric:
        family = GaugeMetricFamily(
            "mediavault_webhook_deliveries", "Webhook deliveries by status", labels=["status"]
        )
        rows = session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        ).all()
        for status, count in rows:
            family.add_metric([status], float(count))
        return family


class Metrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self, services: Services) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.http_latency = Histogram(
            "mediavault_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route", "status"],
            buckets=_HTTP_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StateCollector(services))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_latency.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
