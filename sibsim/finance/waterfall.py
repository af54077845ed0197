"""The payment waterfall: cash paid to classes of capital in order of seniority.

Senior/subordinate structures (Utah preschool: USD 4.6m senior, 2.4m
subordinate; Chicago; Massachusetts) repay each tranche its balance owed,
principal plus its coupon, before anything reaches the next one.
"""

from __future__ import annotations

import numpy as np


def waterfall(available: np.ndarray, owed: np.ndarray) -> np.ndarray:
    """What each tranche is paid in one period.

    available: (n,) cash to distribute, >= 0
    owed: (n, J) balance owed to each tranche, senior first (column 0);
        ``inf`` for a tranche that takes all that reaches it
    Returns (n, J): tranche j gets ``min(owed_j, available - owed to tranches before j)``,
    at least 0; so no tranche is paid while a senior one is still owed, and
    nothing is paid beyond what is owed.
    """
    owed = np.asarray(owed, dtype=float)
    before = np.zeros_like(owed)
    np.cumsum(owed[:, :-1], axis=1, out=before[:, 1:])
    return np.clip(np.asarray(available, dtype=float)[:, None] - before, 0.0, owed)
