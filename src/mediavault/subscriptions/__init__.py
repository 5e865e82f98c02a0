"""Subscriptions: keep channels, playlists, feeds and creator profiles in sync.

- ``sync``: the incremental walk (stop after N known items, resumable backfill)
- ``store``: subscriptions (with the scheduler's lease), the item archive, credentials
- ``runner``: one subscription's sync under its lease, with a job or a client sink
- ``scheduler``: due subscriptions -> ``subscription_sync`` jobs, safe with many workers
- ``handlers``: the ``subscription_sync`` and ``profile_scrape`` job kinds
"""

from mediavault.subscriptions.sync import SyncFilters, SyncReport, run_sync

__all__ = ["SyncFilters", "SyncReport", "run_sync"]
