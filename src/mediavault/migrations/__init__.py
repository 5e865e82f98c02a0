"""Alembic migrations for the mediavault database, packaged with the library.

Run with ``mediavault db upgrade`` (also done automatically when a service or worker
starts) or ``mediavault.jobs.db.upgrade(settings)``. ``tests/jobs/test_migrations.py``
checks that the migrations produce exactly the schema of ``mediavault.jobs.tables``.
"""
