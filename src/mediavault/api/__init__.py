"""The REST service (FastAPI): ``create_app`` builds it; ``mediavault serve`` runs it."""

from mediavault.api.app import create_app

__all__ = ["create_app"]
