"""Representation references beside linear CKA: debiased CKA, Procrustes distance, mutual-kNN alignment.

Measures of representation similarity disagree (Klabunde et al., ReSi; Huh et al. 2024), so the
agreement job writes several model x model matrices of the pre-logit features of the explained
images (rows the same images), each a reference of the Mantel tests:

- **Debiased linear CKA** (Nguyen et al. 2021): linear CKA (:mod:`.cka`) with the unbiased HSIC
  estimator of Song et al. 2012 for the biased one, on the centred Gram matrices K, L with zeroed
  diagonals: HSIC_u = [tr(K L) + 1'K1 1'L1 / ((n-1)(n-2)) - 2/(n-2) 1'K L1] / (n(n-3)). With few
  images plain CKA of unrelated features is far above 0; the debiased one is near 0 (and can be
  slightly negative). Needs at least 4 images.
- **Procrustes angular distance** (Williams et al. 2021; Ding et al. 2021): features column-centred
  and scaled to unit Frobenius norm, theta = arccos ||X^T Y||_* (nuclear norm: the best orthogonal
  map of one onto the other), in radians, 0 for representations equal up to rotation, reflection and
  scale, at most pi/2. Different widths need no padding: the singular values of X^T Y are those of
  F_x^T F_y with F = U S of each side's thin SVD (n x min(n, p)), so a pair costs O(n^3).
- **Mutual k-nearest-neighbour alignment** (Huh et al. 2024, "The Platonic Representation
  Hypothesis"): each image's k nearest other images by cosine similarity of its (uncentred)
  features in either model, the shared fraction |N_X(i) & N_Y(i)| / k averaged over images; 1 for
  the same neighbourhoods, k / (n - 1) expected for unrelated ones. Neighbours by scikit-learn.

A representation that is constant over the images (or an all-zero feature vector, which has no
direction, for the kNN) makes its row NaN with a logged reason.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from xaisim.statistics import undefined
from xaisim.statistics.cka import _centred_gram

T = TypeVar("T")


def _matrix(features: dict[str, np.ndarray], prepare: Callable[[np.ndarray], T | str],
            pair: Callable[[T, T], float], what: str) -> pd.DataFrame:
    """Model x model ``pair`` of the ``prepare``d features; a ``prepare`` that returns a string
    (why the representation is unusable) makes that model's row and column NaN."""
    names = list(features)
    prepared = {name: prepare(np.asarray(f, dtype=np.float64).reshape(len(f), -1)) for name, f in features.items()}
    out = np.full((len(names), len(names)), np.nan)
    for i, a in enumerate(names):
        if isinstance(prepared[a], str):
            undefined(f"{what} of {a}", prepared[a])
            continue
        for j, b in enumerate(names[i:], i):
            if not isinstance(prepared[b], str):
                out[i, j] = out[j, i] = pair(prepared[a], prepared[b])
    return pd.DataFrame(out, index=names, columns=names)


def _unbiased_hsic(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. 2012's unbiased HSIC of two Gram matrices with zeroed diagonals."""
    n = len(k)
    return float(((k * l).sum() + k.sum() * l.sum() / ((n - 1) * (n - 2)) - 2 / (n - 2) * k.sum(0) @ l.sum(0))
                 / (n * (n - 3)))


def _debiased_gram(x: np.ndarray) -> tuple[np.ndarray, float] | str:
    """The centred Gram matrix with zeroed diagonal and its unbiased HSIC with itself."""
    if len(x) < 4:
        return f"{len(x)} images; the unbiased HSIC needs at least 4"
    gram = _centred_gram(x)
    np.fill_diagonal(gram, 0)
    own = _unbiased_hsic(gram, gram)
    return (gram, own) if own > 0 else "the representation has no positive unbiased HSIC (constant over the images)"


def _debiased(a: tuple[np.ndarray, float], b: tuple[np.ndarray, float]) -> float:
    return _unbiased_hsic(a[0], b[0]) / np.sqrt(a[1] * b[1])


def debiased_cka_matrix(features: dict[str, np.ndarray]) -> pd.DataFrame:
    """Model x model debiased linear CKA of ``features`` (name -> (n, p) array, rows the same images)."""
    return _matrix(features, _debiased_gram, _debiased, "debiased CKA")


def debiased_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Debiased linear CKA of two feature matrices over the same images (rows)."""
    return float(debiased_cka_matrix({"x": x, "y": y}).loc["x", "y"])


def _procrustes_factor(x: np.ndarray) -> np.ndarray | str:
    """U S of the centred, unit-Frobenius-norm features' thin SVD."""
    x = x - x.mean(0)
    norm = np.linalg.norm(x)
    if norm == 0:
        return "the representation is constant over the images"
    u, s, _ = np.linalg.svd(x / norm, full_matrices=False)
    return u * s


def _angle(fx: np.ndarray, fy: np.ndarray) -> float:
    nuclear = np.linalg.svd(fx.T @ fy, compute_uv=False).sum()
    return float(np.arccos(np.clip(nuclear, -1.0, 1.0)))


def procrustes_matrix(features: dict[str, np.ndarray]) -> pd.DataFrame:
    """Model x model Procrustes angular distance (radians) of ``features`` (name -> (n, p))."""
    return _matrix(features, _procrustes_factor, _angle, "Procrustes distance")


def procrustes_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Procrustes angular distance of two feature matrices over the same images (rows)."""
    return float(procrustes_matrix({"x": x, "y": y}).loc["x", "y"])


def _neighbours(k: int) -> Callable[[np.ndarray], np.ndarray | str]:
    def prepare(x: np.ndarray) -> np.ndarray | str:
        """The (n, n) mask of each image's k nearest other images (cosine)."""
        if k > len(x) - 1:
            return f"{len(x)} images have fewer than k={k} other images"
        norms = np.linalg.norm(x, axis=1)
        if (norms == 0).any():
            return f"{int((norms == 0).sum())} all-zero feature vectors have no cosine neighbours"
        if np.ptp(x / norms[:, None], axis=0).max() == 0:
            return "every image has the same feature direction (no neighbour order)"
        idx = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(x).kneighbors(return_distance=False)
        mask = np.zeros((len(x), len(x)), dtype=bool)
        mask[np.arange(len(x))[:, None], idx] = True
        return mask

    return prepare


def mutual_knn_matrix(features: dict[str, np.ndarray], k: int) -> pd.DataFrame:
    """Model x model mutual-kNN alignment (Huh et al. 2024) of ``features`` with ``k`` neighbours."""
    return _matrix(features, _neighbours(k), lambda a, b: float((a & b).sum(1).mean() / k), "mutual kNN")


def mutual_knn(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """Mutual-kNN alignment of two feature matrices over the same images (rows)."""
    return float(mutual_knn_matrix({"x": x, "y": y}, k).loc["x", "y"])
