"""Linear centred kernel alignment (Kornblith et al. 2019) of the models' pre-logit features.

CKA(X, Y) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) with column-centred features X (n, p),
Y (n, q) of the same n images; invariant to orthogonal transforms and isotropic scaling of either
side, 1 for identical representations. Computed in float64 through the n x n Gram matrices, so
wide features cost O(n^2 p).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xaisim.statistics import undefined


def _centred_gram(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    x = x - x.mean(0)
    return x @ x.T


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two feature matrices over the same images (rows); NaN if one is constant."""
    if len(x) != len(y):
        raise ValueError(f"CKA needs the same images on both sides, got {len(x)} and {len(y)} rows")
    kx, ky = _centred_gram(x), _centred_gram(y)
    denom = np.linalg.norm(kx) * np.linalg.norm(ky)
    if denom == 0:
        return undefined("CKA", "a representation is constant over the images")
    return float((kx * ky).sum() / denom)


def cka_matrix(features: dict[str, np.ndarray]) -> pd.DataFrame:
    """Model x model linear CKA of ``features`` (name -> (n, p) array, rows the same images)."""
    names = list(features)
    grams = {n: _centred_gram(f) for n, f in features.items()}
    norms = {n: np.linalg.norm(g) for n, g in grams.items()}
    out = np.full((len(names), len(names)), np.nan)
    for i, a in enumerate(names):
        for j, b in enumerate(names[i:], i):
            if norms[a] * norms[b] == 0:
                undefined(f"CKA of {a} and {b}", "a representation is constant over the images")
                continue
            out[i, j] = out[j, i] = (grams[a] * grams[b]).sum() / (norms[a] * norms[b])
    return pd.DataFrame(out, index=names, columns=names)
