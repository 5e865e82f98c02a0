"""The job engine: SQL job store, Huey dispatch, workers, reaper, events, retention.

Modules: ``tables`` (schema), ``db`` (engine, migrations), ``store`` (lease-checked
state changes), ``dispatch`` (Huey carrying job ids), ``events`` (EventBus),
``handlers`` (JobContext and the handler registry), ``worker``, ``reaper``,
``limits`` (per-host slots), ``retention``. The API uses ``mediavault.services``.
"""
