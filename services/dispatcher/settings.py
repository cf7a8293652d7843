"""Dispatcher settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.dispatcher.shards import Shard
from shared import config
from shared.networks import KNOWN_NETWORKS

DEFAULT_SANDBOX_URL = "http://127.0.0.1:8702"


def _env_float(env: Mapping[str, str], name: str, default: float, unit: str = "seconds") -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of {unit}, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {raw!r}")
    return value


def _fence_ttl(env: Mapping[str, str]) -> int:
    # Whole seconds: JetStream's per-message TTL (`Nats-TTL`) takes no fraction.
    ttl = config.env_int(env, "RELAIS_DISPATCHER_FENCE_TTL", 30)
    if ttl < 1:
        raise ValueError(f"RELAIS_DISPATCHER_FENCE_TTL must be at least 1 second, not {ttl}")
    return ttl


def ledger_name(shard_number: int) -> str:
    """A shard's own ledger file: the first shard's is the single dispatcher's."""
    return "dispatcher.db" if shard_number == 1 else f"dispatcher-shard-{shard_number}.db"


@dataclass(frozen=True)
class Settings:
    nats_url: str
    data_dir: Path
    credentials_file: Path
    # The deployment's sealing key pair (#16), shared by every shard: see advocate_accounts.py.
    sealing_key_file: Path = Path("sealing.key")
    api_urls: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 8704
    log_format: str = "console"
    concurrency: int = 32
    max_attempts: int = 8  # failed attempts (or reconciliations) before a dead letter
    retry_base: float = 2.0  # first backoff, doubled each failure, with jitter
    retry_cap: float = 900.0
    http_timeout: float = 30.0  # one network call; also how long an interrupted call may still land
    media_public_url: str = ""  # where networks that fetch media (Instagram, Threads) reach GET /media/{id}
    throttle_alert_after: float = 900.0  # seconds a page may wait on a rate limit before the hub is alerted
    shard: Shard = field(default_factory=Shard)  # the targets this instance delivers to (shards.py)
    fence_ttl: int = 30  # seconds a dispatcher's lease outlives its last renewal (fence.py)
    inbox_poll_seconds: float = 60.0  # how often each page's inbox is read, where its network allows
    # The ages at which a delivery's figures are read (1 h, 24 h, 7 d) are multiplied by this: tests
    # and demos take 0.001 (1 h = 3.6 s); production keeps 1.
    engagement_time_scale: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        data_dir = config.data_dir(env)
        # Every network points at the sandbox unless its own API root is given.
        sandbox = env.get("RELAIS_SANDBOX_URL") or DEFAULT_SANDBOX_URL
        api_urls = {n: env.get(f"RELAIS_API_URL_{n.upper()}") or sandbox for n in KNOWN_NETWORKS}
        host = env.get("RELAIS_HOST") or "127.0.0.1"
        port = config.env_int(env, "RELAIS_DISPATCHER_PORT", 8704)
        own_address = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        return cls(
            nats_url=config.nats_url(env),
            data_dir=data_dir,
            credentials_file=Path(env.get("RELAIS_CREDENTIALS_FILE") or data_dir / "credentials.json"),
            sealing_key_file=Path(env.get("RELAIS_SEALING_KEY_FILE") or data_dir / "sealing.key"),
            api_urls=api_urls,
            host=host,
            port=port,
            log_format=config.log_format(env),
            concurrency=config.env_int(env, "RELAIS_DISPATCHER_CONCURRENCY", 32),
            max_attempts=config.env_int(env, "RELAIS_DISPATCHER_MAX_ATTEMPTS", 8),
            retry_base=_env_float(env, "RELAIS_DISPATCHER_RETRY_BASE", 2.0),
            http_timeout=_env_float(env, "RELAIS_DISPATCHER_HTTP_TIMEOUT", 30.0),
            media_public_url=(env.get("RELAIS_MEDIA_PUBLIC_URL") or own_address).rstrip("/"),
            throttle_alert_after=60 * _env_float(env, "RELAIS_THROTTLE_ALERT_MINUTES", 15.0, "minutes"),
            shard=Shard.parse(env.get("RELAIS_DISPATCHER_SHARD"), env.get("RELAIS_DISPATCHER_SHARD_MOVES")),
            fence_ttl=_fence_ttl(env),
            inbox_poll_seconds=_env_float(env, "RELAIS_INBOX_POLL_SECONDS", 60.0),
            engagement_time_scale=_env_float(env, "RELAIS_ENGAGEMENT_TIME_SCALE", 1.0, "times the real ages"),
        )

    @property
    def database(self) -> Path:
        return self.data_dir / ledger_name(self.shard.number)
