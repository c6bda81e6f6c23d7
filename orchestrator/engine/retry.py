"""Delays between attempts: pure functions of the policy and the attempt number."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

Backoff = Literal["fixed", "linear", "exponential"]


@dataclass(frozen=True, slots=True)
class RetryRule:
    """Everything that decides whether and when a failed attempt is retried."""

    max_attempts: int
    backoff: Backoff = "exponential"
    initial_s: float = 1.0
    max_s: float = 60.0
    multiplier: float = 2.0
    jitter: bool = False


def delay_s(rule: RetryRule, failed_attempt: int, *, seed: str = "") -> float:
    """Seconds to wait after attempt number ``failed_attempt`` (1-based) failed.

    fixed: ``initial``; linear: ``initial * n``; exponential: ``initial * multiplier**(n-1)``;
    all capped at ``max_s``.  Jitter spreads the delay by up to +-20%, derived from
    ``seed`` (run, node, attempt) so the function stays pure and replayable.
    """
    n = max(1, failed_attempt)
    if rule.backoff == "fixed":
        base = rule.initial_s
    elif rule.backoff == "linear":
        base = rule.initial_s * n
    else:
        # Cap the exponent: 2.0**1000 overflows long before any cap would apply.
        base = rule.initial_s * (rule.multiplier ** min(n - 1, 64))
    base = min(base, rule.max_s)
    if rule.jitter and base > 0:
        fraction = (zlib.crc32(f"{seed}:{n}".encode()) % 10_000) / 10_000  # [0, 1)
        base = min(rule.max_s, base * (0.8 + 0.4 * fraction))
    return max(0.0, base)


def should_retry(rule: RetryRule, attempts_made: int) -> bool:
    """Whether another attempt follows ``attempts_made`` failed ones."""
    return attempts_made < rule.max_attempts
