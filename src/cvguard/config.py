"""Settings: the one place configuration comes from (environment variables prefixed ``CVGUARD_``).

Nothing reads the environment at import time. Edges build a :class:`Settings` with
:func:`get_settings` (or construct one directly in tests) and pass it down explicitly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
_SECRET_URLS = frozenset({"database_url", "redis_url"})


def redact_url(url: str) -> str:
    """``url`` with its password (and any ``password=`` query value) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            netloc = f"{user}:***@{host}" if colon else f"{user}@{host}"
        query = "&".join(
            f"{k}=***" if k.lower() in ("password", "pass", "pwd") else f"{k}{eq}{v}"
            for k, eq, v in (item.partition("=") for item in parts.query.split("&"))
        ) if parts.query else ""
        if (netloc, query) == (parts.netloc, parts.query):
            return url  # nothing secret in it (and sqlite:///path stays as written)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "***"


class Settings(BaseSettings):
    """Runtime configuration of cvguard.

    ``database_url`` defaults to a SQLite file under ``data_dir``; ``redis_url`` unset means the
    in-process event bus and behaviour state.
    """

    model_config = SettingsConfigDict(env_prefix="CVGUARD_", extra="ignore", frozen=True)

    data_dir: Path = Path("./var")
    database_url: str = ""  # empty: SQLite under data_dir
    redis_url: str | None = None
    # Requests a second each API key may make (a token bucket per key, in this process), and how
    # many it may make at once; None turns rate limiting off.
    rate_limit_per_s: float | None = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=200, ge=1)
    keep_text: bool = True  # store the raw text of events (False: only its SHA-256)
    # Raw text older than this (in event time: days before the newest event processed) is dropped
    # from the store, its SHA-256 kept; None keeps it until `cvguard purge`.
    text_retention_days: float | None = Field(default=30.0, gt=0)
    max_text_chars: int = Field(default=100_000, ge=1)
    max_batch: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    log_level: LogLevel = "INFO"
    # Time (pipeline.clock): online (API, workers) an event dated more than this ahead of the
    # receiving wall clock is refused; offline (replay) one more than ``replay_horizon_s`` ahead of
    # the stream's watermark is set aside unless ``replay_quorum`` events vouch for the jump.
    max_clock_skew_s: float = Field(default=300.0, ge=0)
    replay_horizon_s: float = Field(default=3600.0, gt=0)
    replay_quorum: int = Field(default=20, ge=2)
    # The most characters one POST /v1/screen request may screen in all (413 beyond).
    max_screen_chars: int = Field(default=100_000, ge=1)
    # The policy (YAML, see docs/POLICY.md) the API decides with, followed for edits (hot reload);
    # None: the default policy shipped with cvguard.
    policy_file: Path | None = None
    # Shadow mode: a candidate policy decides every event beside the active one; its decisions are
    # recorded (``decisions`` table, shadow=true), never returned. None: no shadow.
    shadow_policy_file: Path | None = None
    # The sanction ladder (YAML, see docs/ENFORCEMENT.md; `cvguard ladder validate`), read at start;
    # None: the ladder shipped with cvguard.
    ladder_file: Path | None = None
    # Reports (docs/REPORTS.md): the SLA of each priority, in hours of wall-clock time; how many
    # independent reporters of one account raise a report a level, over what window; the ring rule
    # (reporters created within ``report_ring_created_within_h`` of each other AND reporting within
    # ``report_ring_reported_within_min`` of each other, or following each other, are one voice).
    report_sla_urgent_h: float = Field(default=1.0, gt=0)
    report_sla_high_h: float = Field(default=4.0, gt=0)
    report_sla_normal_h: float = Field(default=24.0, gt=0)
    report_promote_at: int = Field(default=5, ge=2)
    report_crowd_window_h: float = Field(default=168.0, gt=0)
    report_ring_created_within_h: float = Field(default=72.0, ge=0)
    report_ring_reported_within_min: float = Field(default=30.0, ge=0)
    report_ring_min_size: int = Field(default=3, ge=2)
    report_max_text_chars: int = Field(default=4000, ge=1, le=100_000)
    # Private messages (``protection.dm``, docs/DM_AND_NUDGES.md), all in event time: a sender over
    # ``dm_rate_per_recipient`` messages to one person within ``dm_rate_per_recipient_window_s``, or
    # over ``dm_rate_per_sender`` to anyone within ``dm_rate_per_sender_window_s``, is over rate;
    # ``dm_abuse_escalate_after`` abusive messages to one person within ``dm_abuse_window_s``
    # escalate; a stranger's unanswered first message counts for ``dm_unanswered_expiry_days``.
    dm_rate_per_recipient: int = Field(default=20, ge=1)
    dm_rate_per_recipient_window_s: float = Field(default=60.0, gt=0)
    dm_rate_per_sender: int = Field(default=60, ge=1)
    dm_rate_per_sender_window_s: float = Field(default=600.0, gt=0)
    dm_abuse_escalate_after: int = Field(default=3, ge=1)
    dm_abuse_window_s: float = Field(default=86_400.0, gt=0)
    dm_unanswered_expiry_days: float = Field(default=30.0, gt=0)
    # Key groups the platform marks people with beyond cvguard's own (minor, hot_event_bystander and
    # the policy vocabulary's): a JSON list, e.g. CVGUARD_EXTRA_KEY_GROUPS='["new_creator"]'. A
    # member of any key group is shielded automatically under a pile-on; policies name only the
    # vocabulary's groups (``cvguard policy validate`` stays strict).
    extra_key_groups: tuple[str, ...] = ()
    # MCN thresholds (YAML, docs/MCN.md; validated on load, every issue named): when members'
    # violations call for a measure against their MCN. None: the thresholds shipped with cvguard.
    mcn_thresholds_file: Path | None = None
    # The audit trail (docs/AUDIT.md) also records what cvguard does by itself: one entry per
    # action-feed append and per batch of decisions (digests tying the rows to the chain), and
    # each automatic shield or offer, and each policy the API puts in service. False: those are not
    # recorded; what people do, and the sanctions and MCN measures cvguard takes, always are.
    audit_automated: bool = True
    # The model port (detection.port; docs/MODEL.md, "Plugging in your own model"): the platform's
    # own classifier decides the texts whose built-in score falls in ``plugin_band`` [low, high).
    # Unset kind: no plug-in, and screening is exactly the built-in screener.
    plugin_kind: Literal["onnx", "http"] | None = None
    plugin_path: Path | None = None  # onnx: the model file
    plugin_vocab: Path | None = None  # onnx taking input_ids: the model's vocab.txt (WordPiece)
    plugin_max_tokens: int = Field(default=128, ge=8, le=4096)
    plugin_url: str | None = None  # http: POST {"texts": [...]} -> {"scores": [...]}
    plugin_token: SecretStr | None = None  # http: sent as "Authorization: Bearer <token>"
    plugin_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
    plugin_band: Annotated[tuple[float, float], NoDecode] = (0.35, 0.75)
    plugin_timeout_ms: float = Field(default=300.0, gt=0, le=60_000)
    plugin_retry_s: float = Field(default=5.0, ge=0)  # after a failure, the plug-in is left alone this long

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            # frozen model: set through object.__setattr__ once, while validating
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'cvguard.db'}")
        return self

    def __repr_args__(self) -> Any:
        # database and Redis URLs carry passwords: never shown whole (repr, logs, tracebacks)
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name in _SECRET_URLS and isinstance(value, str) else value

    @field_validator("extra_key_groups")
    @classmethod
    def _group_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not re.match(r"^[a-z][a-z0-9_]{0,31}$", name):
                raise ValueError(f"key group {name!r}: lower-case letters, digits and _, 1 to 32")
        return value

    @field_validator("plugin_band", mode="before")
    @classmethod
    def _band(cls, value: object) -> object:
        if isinstance(value, str):  # CVGUARD_PLUGIN_BAND=0.35,0.75
            parts = [p.strip() for p in value.strip().strip("[]()").split(",")]
            if len(parts) != 2:
                raise ValueError("two numbers, low,high (e.g. 0.35,0.75)")
            return tuple(parts)
        return value

    @model_validator(mode="after")
    def _plugin(self) -> Settings:
        low, high = self.plugin_band
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"plugin_band: 0 <= low < high <= 1, got {low},{high}")
        if self.plugin_kind == "onnx" and self.plugin_path is None:
            raise ValueError("plugin_kind onnx needs plugin_path (CVGUARD_PLUGIN_PATH, the .onnx file)")
        if self.plugin_kind == "http" and not self.plugin_url:
            raise ValueError("plugin_kind http needs plugin_url (CVGUARD_PLUGIN_URL)")
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def get_settings() -> Settings:
    """Settings from the current environment (read on every call; callers keep the object)."""
    return Settings()
