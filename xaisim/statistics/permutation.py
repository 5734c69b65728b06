"""Permutation nulls that are exact when they can be, and honest about their floor when not.

A permutation test compares a statistic with its values under relabellings: of the models (Mantel:
rows and columns of one matrix together) or of the family labels over the models (family
separation). With few models there are few distinct relabellings: 6 models have 720 orders, 3 + 3
family labels 20 assignments. When there are at most ``budget`` distinct relabellings, every one is
enumerated (the observed one included) and p = #{null >= observed} / count is **exact**; otherwise
``budget`` distinct relabellings other than the observed one are drawn (seeded, without
duplicates) and p = (1 + #{null >= observed}) / (1 + budget), an unbiased Monte Carlo p-value.
Either way :class:`Null` states the **smallest attainable p** (``floor``): for an exact test the
share of relabellings at the null's maximum, for a sampled one 1 / (1 + budget).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

EPS = 1e-12  # a null value this close to the observed one counts as reaching it


@dataclass(frozen=True)
class Null:
    """Relabellings (P, M) of M items; ``exact``: all ``total`` distinct ones, the observed among them."""

    relabellings: np.ndarray
    exact: bool
    total: int

    def p_value(self, observed: float, null: np.ndarray) -> tuple[float, float]:
        """(p, floor) of ``observed`` given the statistic ``null`` (P,) of each relabelling (larger is
        more extreme; pass absolute values for a two-sided test)."""
        reached = int(np.count_nonzero(null >= observed - EPS))
        if self.exact:
            return reached / len(null), int(np.count_nonzero(null >= null.max() - EPS)) / len(null)
        return (1 + reached) / (1 + len(null)), 1 / (1 + len(null))


def model_orders(m: int, budget: int, seed: int) -> Null:
    """Orders of ``m`` models: all m! when m! <= budget, else ``budget`` distinct random non-identity orders."""
    total = math.factorial(m)
    if total <= budget:
        return Null(np.array(list(itertools.permutations(range(m))), dtype=np.int64).reshape(total, m), True, total)
    return Null(_distinct(lambda rng: rng.permutation(m), tuple(range(m)), budget, seed), False, total)


def label_assignments(labels: Sequence[str], budget: int, seed: int) -> Null:
    """Assignments (P, M) of the multiset of ``labels`` (as integer codes in sorted label order) to
    the M models: all M! / prod(n_f!) distinct ones when that is <= budget, else ``budget`` distinct
    random ones other than the observed."""
    codes = np.unique(np.asarray(labels), return_inverse=True)[1]
    counts = Counter(codes.tolist())
    total = math.factorial(len(codes)) // math.prod(math.factorial(c) for c in counts.values())
    if total <= budget:
        return Null(np.array(_multiset_permutations(len(codes), sorted(counts.items())), dtype=np.int64), True, total)
    return Null(_distinct(lambda rng: rng.permutation(codes), tuple(codes.tolist()), budget, seed), False, total)


def _multiset_permutations(m: int, counts: list[tuple[int, int]]) -> list[list[int]]:
    """Every distinct arrangement of ``counts`` ((code, count), ...) over m places."""
    out: list[list[int]] = []
    row = [0] * m

    def fill(free: list[int], rest: list[tuple[int, int]]) -> None:
        if not rest:
            out.append(row.copy())
            return
        (code, count), more = rest[0], rest[1:]
        for chosen in itertools.combinations(free, count):
            for i in chosen:
                row[i] = code
            fill([f for f in free if f not in chosen], more)

    fill(list(range(m)), counts)
    return out


def _distinct(draw, observed: tuple[int, ...], budget: int, seed: int) -> np.ndarray:
    """``budget`` distinct draws, none equal to ``observed`` (the caller ensured there are enough)."""
    rng = np.random.default_rng(seed)
    seen, rows = {observed}, []
    while len(rows) < budget:
        row = tuple(int(v) for v in draw(rng))
        if row not in seen:
            seen.add(row)
            rows.append(row)
    return np.array(rows, dtype=np.int64)


def q_values(p: Sequence[float]) -> np.ndarray:
    """Benjamini–Hochberg q-values (statsmodels' ``fdr_bh``) of a family of p-values; NaN stays NaN
    and is not counted as a test."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=np.float64)
    q = np.full_like(p, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        q[tested] = multipletests(p[tested], method="fdr_bh")[1]
    return q
