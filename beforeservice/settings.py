"""Every setting of the engine, from environment variables (one `Settings`, as in the FastAPI template)."""

from __future__ import annotations

import base64
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from entitlements import CATALOG_DIR

# Public development values: in the source, so they protect nothing (beforeservice.startup refuses them
# outside DEV_MODE).
DEV_PSEUDONYM_KEY = "dev-only-pseudonym-key-change-me-0123456789"
DEV_TOKEN_SECRET = "dev-only-change-me-0123456789abcdef"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Kafka bootstrap servers; unset = `beforeservice up` starts the embedded broker"
    )
    embedded_broker_port: int = Field(default=9092, description="Port of the embedded broker (tansu)")
    database_url: str = Field(
        default="sqlite:///var/beforeservice.db", description="SQLAlchemy URL; PostgreSQL in production"
    )
    life_events_partitions: int = Field(default=8, description="Partitions of the life-events topic")
    replay_horizon_days: int = Field(
        default=3650,
        ge=1,
        description="How far back `beforeservice rebuild` and shadow replays reach: the life-events topic keeps "
        "its records at least this long (retention.ms, `beforeservice topics`)",
    )
    dead_letter_retention_days: int = Field(
        default=90, ge=1, description="How long the dead-letter topic keeps refused records (they hold raw input)"
    )
    kafka_replication_factor: int | None = Field(
        default=None,
        ge=1,
        description="Replicas of each topic; unset = 3 in production, 1 in DEV_MODE or on the embedded broker",
    )
    kafka_produce_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest the ingestion API waits for the broker to take an event; then 503 with Retry-After",
    )
    kafka_idempotence: bool | None = Field(
        default=None,
        description="Idempotent producers (acks=all, no duplicates on retry); unset = on in production, off in "
        "DEV_MODE or on the embedded broker (tansu refuses aiokafka's InitProducerId)",
    )
    worker_id: str = Field(default="beforeservice-worker", description="Faust app id = Kafka consumer group")
    worker_batch_size: int = Field(default=500, description="Events per batch (one DB transaction per batch)")
    worker_batch_seconds: float = Field(default=0.2, description="Longest wait to fill a batch")
    kafka_fetch_max_wait_ms: int = Field(
        default=50, description="Longest a worker's fetch waits on the broker for new records (Faust fixes 1500)"
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Bind address of the worker's, dispatcher's and scheduler's metrics and probes"
    )
    worker_metrics_port: int = Field(default=9101, description="Worker's metrics and probes port; 0 disables")
    dispatcher_metrics_port: int = Field(default=0, description="Dispatcher's metrics and probes port; 0 disables")
    scheduler_metrics_port: int = Field(default=0, description="Scheduler's metrics and probes port; 0 disables")
    dispatch_interval_seconds: float = Field(default=0.5, description="How often the outbox is dispatched")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Logs of the api, worker, dispatcher and scheduler: text lines, or JSON lines (one object a line, "
        "with event_id, trace_id, agency; docs/observability.md). Production deployments set json",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="The lowest level logged by the engine's processes"
    )
    worker_dispatches_outbox: bool = Field(
        default=True, description="The worker also dispatches the outbox; false when `beforeservice dispatcher` runs"
    )
    api_host: str = Field(default="127.0.0.1", description="HTTP API bind address")
    api_port: int = Field(default=8000, description="HTTP API port")
    max_event_bytes: int = Field(default=1_048_576, description="Largest accepted event body (413 beyond)")
    max_body_bytes: int = Field(
        default=65_536, description="Largest accepted body on any other route (413 beyond; events have their own)"
    )
    firebase_credentials: str | None = Field(
        default=None, description="Service-account JSON for FCM; unset = in-app inbox only"
    )
    fcm_endpoint: str | None = Field(default=None, description="FCM-compatible endpoint override (tests, emulators)")
    scheduler_timezone: str = Field(default="Asia/Seoul", description="Time zone of scheduled jobs and quiet hours")
    consent_text_version: str = Field(default="2026-01", description="Version of the consent text citizens agree to")
    quiet_hours_start: int = Field(default=21, description="Hour (local) from which non-urgent pushes are held")
    quiet_hours_end: int = Field(default=8, description="Hour (local) at which held pushes are released")
    push_budget_per_week: int = Field(default=3, description="Most pushes one citizen gets in 7 days (all agencies)")
    urgent_deadline_days: int = Field(default=7, description="A deadline this close makes a push urgent")
    bereavement_cooling_off_hours: float = Field(
        default=72, description="Hours next of kin are left in peace after a death before any push"
    )
    high_value_krw: int = Field(default=1_000_000, description="Offers worth this much are chased on other channels")
    fallback_after_hours: float = Field(default=48, description="Unopened this long: fall back to the next channel")
    push_retry_base_seconds: float = Field(
        default=60, description="FCM unavailable: first re-send after twice this, doubling on every failure"
    )
    push_retry_cap_seconds: float = Field(default=1800, description="Longest wait between re-sends while FCM is down")
    push_retry_hours: float = Field(
        default=24, description="FCM unavailable this long after a notification was written: give its push up"
    )
    fallback_channels: str = Field(default="kakao,sms", description="Channels after push, in order (kakao, sms)")
    message_gateway_url: str | None = Field(
        default=None, description="SMS/KakaoTalk Alimtalk provider endpoint; unset = no text fallback"
    )
    message_gateway_key: str | None = Field(default=None, description="Bearer key of the message provider")
    inbox_url: str = Field(default="https://beforeservice.example/inbox", description="Link in fallback texts")
    device_stale_days: int = Field(default=270, description="Tokens not refreshed this long are pruned")
    reminder_days: str = Field(default="14,3", description="Deadline reminders, in days before the deadline")
    pseudonym_key: str = Field(
        default=DEV_PSEUDONYM_KEY,
        description="HMAC-SHA256 key turning resident registration numbers into pseudonyms (≥32 bytes; keep secret; "
        "the public default is refused outside DEV_MODE)",
    )
    data_keys: str = Field(
        default="",
        description="AES-256-GCM keys sealing personal data at rest, '<id>:<base64 32 bytes>,…', the first active "
        "(`beforeservice keys generate`); unset = a fixed dev-only key, allowed only in DEV_MODE",
    )
    token_secret: str = Field(
        default=DEV_TOKEN_SECRET,
        description="HMAC key signing access tokens and console sessions (≥32 bytes, random; the public default is "
        "refused outside DEV_MODE)",
    )
    token_ttl_seconds: int = Field(
        default=3600, description="Lifetime of an access token; a token claiming a longer one is refused"
    )
    token_issuer: str = Field(default="beforeservice", description="`iss` of access tokens (required on every token)")
    token_audience: str = Field(
        default="beforeservice-api", description="`aud` of access tokens (required on every token)"
    )
    dev_mode: bool = Field(
        default=False,
        description="Development mode (`make run`, tests): the public dev secrets are allowed, with a loud warning; "
        "without it every engine process refuses to start unless TOKEN_SECRET, PSEUDONYM_KEY and DATA_KEYS are "
        "strong",
    )
    dev_login: bool = Field(
        default=False, description="Enable POST /v1/dev/login (demo and tests only; refused outside DEV_MODE)"
    )
    data_dir: str = Field(default="var", description="Where the embedded defaults keep their files")
    catalog_dir: str | None = Field(
        default=None, description="Directory of the benefit catalog (rules); unset = entitlements/catalog"
    )
    catalog_check_seconds: float = Field(
        default=1.0, ge=0, description="How often a process looks for edits of the catalog's files (hot reload)"
    )
    max_batch_bytes: int = Field(default=10_485_760, description="Largest accepted batch body (413 beyond)")
    max_batch_events: int = Field(default=1000, description="Most events in one POST /v1/events:batch")
    console_secure_cookie: bool = Field(
        default=False, description="Mark the console session cookie Secure (set true behind HTTPS)"
    )
    console_session_seconds: int = Field(default=8 * 3600, description="Lifetime of a caseworker console session")
    login_max_failures: int = Field(
        default=5, description="Failed logins of one account within LOGIN_WINDOW_SECONDS before it is locked (429)"
    )
    login_max_failures_per_ip: int = Field(
        default=20, description="Failed logins from one address within LOGIN_WINDOW_SECONDS before it is locked"
    )
    login_window_seconds: int = Field(
        default=900, description="Window counting failed logins; a lock-out lasts until it has passed"
    )
    # The citizens' app (beforeservice/citizen_app): sign-in through an OpenID Connect provider.
    citizen_oidc_issuer: str | None = Field(
        default=None,
        description="Issuer URL of the citizens' OpenID Connect provider (its /.well-known/openid-configuration is "
        "read); unset = no sign-in, except that `beforeservice up` in DEV_MODE starts a local test provider",
    )
    citizen_oidc_client_id: str = Field(
        default="beforeservice-citizen-app", description="Client id of the citizens' app at the OIDC provider"
    )
    citizen_oidc_client_secret: str = Field(
        default="", description="Client secret of the citizens' app at the OIDC provider (keep secret)"
    )
    citizen_oidc_scopes: str = Field(default="openid", description="Scopes the citizens' app asks for")
    citizen_oidc_id_claim: str = Field(
        default="sub",
        description="ID-token claim holding the citizen's pseudonymous id, the one registries put in events (the "
        "provider releases it for this client; never a resident registration number, which is refused)",
    )
    citizen_app_url: str | None = Field(
        default=None,
        description="Public base URL of the citizens' app (e.g. https://gov.example/app) for the OIDC redirect; "
        "unset = the URL of the request",
    )
    citizen_app_secure_cookie: bool = Field(
        default=False, description="Mark the citizens' app cookies Secure (set true behind HTTPS)"
    )
    local_oidc_port: int = Field(
        default=9400, description="Port of the local test OIDC provider `beforeservice up` starts in DEV_MODE"
    )
    firebase_web_config: str = Field(
        default="",
        description="Firebase web app config as JSON (apiKey, projectId, messagingSenderId, appId, vapidKey) for "
        "the citizens' app's web push; unset = the app shows the inbox without push",
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed for the client "
        "address (audit log, login throttling), comma-separated; unset = none, the peer address is used",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if part:
                ipaddress.ip_network(part, strict=False)  # ValueError names the bad entry
        return value

    @property
    def catalog_directory(self) -> Path:
        return Path(self.catalog_dir) if self.catalog_dir else CATALOG_DIR

    audit_anchor_key: str = Field(
        default="",
        description="Ed25519 key (base64, 32 bytes; `beforeservice audit keygen`) signing the audit chain's anchors; "
        "unset = a public dev-only key, with a warning",
    )
    audit_anchor_public_keys: str = Field(
        default="",
        description="Public keys (base64, comma-separated) whose anchors `audit verify` trusts besides the signing "
        "key's: earlier keys after a rotation, or the only ones where verify runs without the signing key",
    )
    audit_anchor_file: str = Field(
        default="", description="Append-only file of audit anchors; unset = DATA_DIR/audit-anchors.jsonl"
    )
    audit_anchor_every: int = Field(default=1, ge=1, description="Anchor the audit chain's head every N entries")
    audit_anchor_syslog: str = Field(
        default="", description="Also send each anchor to syslog: udp://host:port, tcp://host:port or /dev/log"
    )

    @field_validator("audit_anchor_key", "audit_anchor_public_keys")
    @classmethod
    def _ed25519_keys(cls, value: str) -> str:
        # A bad key must stop the engine at start, not refuse the first console access.
        for key in filter(None, (k.strip() for k in value.split(","))):
            try:
                raw = base64.b64decode(key.replace("-", "+").replace("_", "/") + "=" * (-len(key) % 4), validate=True)
            except ValueError as exc:
                raise ValueError("an Ed25519 key is base64 (`beforeservice audit keygen`)") from exc
            if len(raw) != 32:
                raise ValueError(f"an Ed25519 key is 32 bytes, this one is {len(raw)}")
        return value

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.embedded_broker_port}"

    @property
    def _development_broker(self) -> bool:
        return self.dev_mode or not self.kafka_bootstrap_servers  # one embedded tansu node

    @property
    def replication_factor(self) -> int:
        if self.kafka_replication_factor is not None:
            return self.kafka_replication_factor
        return 1 if self._development_broker else 3

    @property
    def idempotent_producers(self) -> bool:
        if self.kafka_idempotence is not None:
            return self.kafka_idempotence
        return not self._development_broker


@lru_cache
def get_settings() -> Settings:
    return Settings()
