"""Route modules of the REST API, each exposing ``router`` (an ``APIRouter``).

Order matters only for the OpenAPI listing. A module listed here that does not exist is
skipped by ``create_app`` (engineers add theirs independently).
"""

ROUTERS: tuple[str, ...] = (
    "download",
    "jobs",
    "extract",
    "playlist",
    "channel",
    "batch",
    "events",
    "media",
    "cookies",
    "auth",
    "users",
    "keys",
    "webhooks",
    "subscriptions",
    "profiles",
    "credentials",
    "system",
)
