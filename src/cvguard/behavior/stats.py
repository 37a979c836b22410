"""Tail probabilities for surge tests, through the regularised incomplete beta function.

Two questions are asked of a window that holds ``k`` abusive messages out of ``n``:

- *rate*: is ``k`` surprising given the subject's long-run abusive rate? The rate is uncertain, so
  it carries a Gamma prior updated by the baseline (``alpha`` events over ``beta`` hours); the
  predictive count is negative binomial, ``P(X >= k) = I_{w/(beta+w)}(k, alpha)``.
- *share*: is ``k`` of ``n`` surprising given the subject's usual abusive share ``p``?
  ``P(Binomial(n, p) >= k) = I_p(k, n - k + 1)``.

A surge needs both (its p-value is the larger), so a celebrity's busy but ordinary hour (high
rate, usual share) and a brand-new person's first few replies (usual share, no rate yet) both pass.
"""

from __future__ import annotations

import math

from scipy.special import betainc


def rate_tail(k: int, window_s: float, alpha: float, beta_hours: float) -> float:
    """P(count >= k) in a window of ``window_s`` seconds under a Gamma(alpha, beta_hours) rate."""
    if k <= 0:
        return 1.0
    beta_s = beta_hours * 3600.0
    return float(betainc(float(k), alpha, window_s / (beta_s + window_s)))


def share_tail(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) >= k)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p >= 1.0:
        return 1.0
    return float(betainc(float(k), float(n - k + 1), p))


def strength(p: float) -> float:
    """-log10 of a p-value, capped (a p-value of 0 reads as 1e-300)."""
    return -math.log10(max(p, 1e-300))
