"""Settings: every knob is an environment variable ``MEDIAVAULT_<NAME>`` (all optional).

Unknown ``MEDIAVAULT_*`` variables are an error (a misspelled setting fails loudly).
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mediavault.errors import ConfigError

__all__ = ["Settings", "get_settings", "parse_duration"]

ENV_PREFIX = "MEDIAVAULT_"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``"90"``, ``"30s"``, ``"15m"``, ``"1h"``, ``"30d"``, ``"2w"`` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"invalid duration {text!r}; use e.g. 30s, 15m, 1h, 30d")
    value, unit = match.groups()
    return float(value) * _UNIT_SECONDS[(unit or "s").lower()]


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """mediavault configuration, read from ``MEDIAVAULT_*`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", case_sensitive=False, validate_default=True
    )

    data_dir: Path = Path("./data")
    database_url: str | None = None
    queue_url: str | None = None
    storage_url: str | None = None
    s3_endpoint_url: str | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    auth: Literal["none", "apikey", "jwt"] = "none"
    secret_key: SecretStr | None = None
    jwt_ttl_seconds: int = Field(default=3600, ge=60)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rate_limit_per_minute: int = Field(default=600, ge=1)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    webhook_max_attempts: int = Field(default=6, ge=1, le=20)
    webhook_retry_base_seconds: float = Field(default=2.0, ge=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)
    auth_cache_seconds: float = Field(
        default=5.0, ge=0, description="API keys are re-checked this often; 0 = every request"
    )
    health_cache_seconds: float = Field(
        default=1.0, ge=0, description="/health probes run at most this often; 0 = every call"
    )
    job_view_seconds: float = Field(
        default=1.0,
        ge=0,
        description="job status reads are answered from memory (kept current by job events)"
        " and re-read from the database at least this often; 0 = every request",
    )
    embedded_worker: Literal["process", "inline"] = Field(
        default="process",
        description="serve's worker: a child process (default) or the API's own event loop",
    )
    embedded_worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="serve's worker child (and the ffmpeg it runs) at this lower CPU priority,"
        " so the API answers first when both want the CPU; 0 = same priority",
    )

    allow_private_networks: bool = False
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    denied_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allowed_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)

    retention: str | None = None
    template: str = "{uploader}/{upload_date} - {title} [{id}].{ext}"

    proxy: str | None = None
    user_agent: str = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0 Safari/537.36"
    )
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    stall_timeout: float = Field(default=20.0, gt=0)
    max_retries: int = Field(default=8, ge=0)
    connections: int = Field(default=8, ge=1, le=64)
    host_connections: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    host_rate_limit: float = Field(default=0.0, ge=0, description="requests/s per host, 0=off")

    worker_concurrency: int = Field(default=3, ge=1, le=64)
    host_concurrency: int = Field(default=2, ge=1, le=64)
    job_max_attempts: int = Field(default=5, ge=1)
    lease_seconds: float = Field(default=15.0, gt=1)
    heartbeat_seconds: float = Field(default=1.0, gt=0)
    reaper_seconds: float = Field(default=5.0, gt=0)
    queue_name: str = Field(default="mediavault", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    retry_base_seconds: float = Field(default=5.0, ge=0)
    retry_max_seconds: float = Field(default=600.0, ge=0)
    job_handler_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)

    ffmpeg: str = "ffmpeg"
    ffprobe: str = "ffprobe"

    onlyfans_api_base: str = "https://onlyfans.com"
    onlyfans_rules: str | None = None
    fansly_api_base: str = "https://apiv3.fansly.com"
    loyalfans_api_base: str = "https://www.loyalfans.com"
    tiktok_api_base: str = "https://www.tiktok.com"
    tiktok_web_base: str = "https://www.tiktok.com"
    chromium_path: str | None = None

    telegram_bot_token: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    bot_api_url: str = "http://127.0.0.1:8080"
    bot_api_key: SecretStr | None = None
    bot_public_url: str | None = None
    bot_allowed_chats: Annotated[list[int], NoDecode] = Field(default_factory=list)

    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON lines unless stderr is a terminal

    @field_validator(
        "cors_origins",
        "allowed_hosts",
        "denied_domains",
        "allowed_domains",
        "job_handler_modules",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("bot_allowed_chats", mode="before")
    @classmethod
    def _chat_ids(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("host_connections", mode="before")
    @classmethod
    def _host_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            out: dict[str, int] = {}
            for part in _split_csv(value):
                host, _, count = part.partition("=")
                if not count.strip().isdigit():
                    raise ValueError(f"expected host=N, got {part!r}")
                out[host.strip().lower()] = int(count)
            return out
        return value

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str | None) -> str | None:
        if value:
            parse_duration(value)
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for entry in value:
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError as exc:
                    raise ValueError(f"invalid CIDR {entry!r}") from exc
        return [entry.strip("[]").lower() for entry in value]

    @model_validator(mode="after")
    def _auth_binding(self) -> Settings:
        return self

    # derived values -----------------------------------------------------------------

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def effective_database_url(self) -> str:
        """SQLAlchemy URL with the driver chosen by us (psycopg 3 for PostgreSQL)."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'mediavault.db').resolve()}"
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or f"file://{self.media_dir.resolve()}"

    @property
    def retention_seconds(self) -> float | None:
        return parse_duration(self.retention) if self.retention else None

    def connections_for(self, host: str) -> int:
        return self.host_connections.get(host.lower(), self.connections)

    def secret_bytes(self) -> bytes:
        """The key material for encryption and JWT; a per-data-dir key file by default."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / ".secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(os.urandom(32).hex())
        return path.read_text().strip().encode()


def _check_unknown_env() -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(
        key for key in os.environ if key.upper().startswith(ENV_PREFIX) and key.upper() not in known
    )
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")


def get_settings(**overrides: Any) -> Settings:
    """Settings from the environment (plus explicit overrides); errors become ConfigError."""
    from pydantic import ValidationError

    _check_unknown_env()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {ENV_PREFIX}{where.upper()}: {first['msg']}") from exc
