"""scikit-learn classifiers as models of the study: trained on flattened pixels, stored without pickle.

A model entry ``{name: SVC, sklearn: svc, kwargs: {C: 10}}`` names one of :data:`ESTIMATORS`;
``kwargs`` go to the estimator, ``input_size`` (default: the data's image size) sets the pixel
grid. The estimator sees the same normalised RGB tensors as a timm model, flattened to
``3 * size * size`` features, so every model-agnostic method explains it through
:class:`SklearnClassifier`, a torch module.

Storage: skops (``skops.io``), a zip of JSON and ``.npy`` arrays made for scikit-learn estimators
and never unpickled; loading refuses any type outside :data:`TRUSTED` (scikit-learn's own tree
and array types, nothing user-defined). The skops bytes travel inside the stage's
``weights.safetensors`` as one uint8 tensor, so every model has the same weights file.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC
from torch import Tensor, nn

log = logging.getLogger(__name__)

ESTIMATORS: dict[str, Callable[..., ClassifierMixin]] = {
    "svc": SVC,
    "random_forest": RandomForestClassifier,
    "logreg": LogisticRegression,
    "mlp": MLPClassifier,
}

# Types a stored estimator may contain besides skops' default-trusted ones (numpy, builtins).
TRUSTED = [
    "sklearn.svm._classes.SVC",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "numpy.random._mt19937.MT19937",
    "numpy.random.mtrand.RandomState",
    "builtins.slice",
]

PROBA_FLOOR = 1e-12

# A module attribute that gradient-based methods check (see :func:`xaisim.models.supports_gradients`).
GRADIENTS_ATTR = "supports_gradients"


def estimator(name: str, kwargs: dict[str, Any] | None = None, seed: int | None = None) -> ClassifierMixin:
    """An unfitted estimator ``name`` with ``kwargs``; ``random_state`` defaults to ``seed``.

    Raises ValueError naming the estimator and the bad argument (unknown name, unknown or invalid
    keyword) without fitting anything.
    """
    if name not in ESTIMATORS:
        raise ValueError(f"unknown scikit-learn model {name!r}; known: {', '.join(ESTIMATORS)}")
    cls = ESTIMATORS[name]
    kwargs = dict(kwargs or {})
    allowed = [p for p in inspect.signature(cls).parameters]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"unknown argument(s) {unknown} for {cls.__name__}; allowed: {allowed}")
    if seed is not None and "random_state" in allowed and "random_state" not in kwargs:
        kwargs["random_state"] = seed
    est = cls(**kwargs)
    try:
        est._validate_params()  # scikit-learn's own parameter constraints, checked before fit
    except (ValueError, TypeError) as err:
        raise ValueError(f"{cls.__name__}: {str(err).splitlines()[0]}") from None
    return est


class SklearnClassifier(nn.Module):
    """A fitted classifier as a torch module: normalised images (B, 3, S, S) -> class scores (B, K).

    Scores are log-probabilities, ``log(max(predict_proba, 1e-12))`` (a random forest's zero
    probabilities would give -inf, which no attribution survives), when the estimator has them,
    otherwise its one-vs-rest ``decision_function`` (SVC without ``probability=True``); the
    predictions' ``prob`` column is their softmax, so for SVC it is a monotone score, not a
    calibrated probability.
    There are no parameters and no gradients: :attr:`supports_gradients` is False, and the forward
    pass works on detached inputs.
    """

    supports_gradients = False

    def __init__(self, est: ClassifierMixin, num_classes: int) -> None:
        super().__init__()
        classes = np.asarray(getattr(est, "classes_", []))
        if not np.array_equal(classes, np.arange(num_classes)):
            raise ValueError(
                f"{type(est).__name__} was fitted on classes {classes.tolist()}, not 0..{num_classes - 1}; "
                "every class needs training images"
            )
        self.estimator = est
        self.num_classes = num_classes
        self.log_proba = hasattr(est, "predict_log_proba") and getattr(est, "probability", True)

    def forward(self, x: Tensor) -> Tensor:
        features = x.detach().flatten(1).cpu().double().numpy()
        if self.log_proba:
            scores = np.log(np.maximum(self.estimator.predict_proba(features), PROBA_FLOOR))
        else:
            scores = self.estimator.decision_function(features)
            if scores.ndim == 1:  # binary: one decision value for class 1
                scores = np.stack([-scores, scores], 1)
        return torch.from_numpy(np.asarray(scores, dtype=np.float32)).to(x.device)


def to_bytes(est: ClassifierMixin) -> bytes:
    """The estimator in skops format (no pickle), made deterministic: skops names objects and array
    files by Python ``id()``, so they are renumbered in schema order and the zip timestamps fixed."""
    import skops.io as sio

    source = zipfile.ZipFile(io.BytesIO(sio.dumps(est)))
    ids: dict[int, int] = {}
    files: dict[str, str] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__":
                    value = ids.setdefault(value, len(ids))
                elif key == "file" and isinstance(value, str):
                    value = files.setdefault(value, f"{len(files):06d}{Path(value).suffix}")
                out[key] = renumber(value)
            return out
        if isinstance(node, list):
            return [renumber(v) for v in node]
        return node

    schema = renumber(json.loads(source.read("schema.json")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        entries = {"schema.json": json.dumps(schema, indent=2).encode()}
        entries.update({files[name]: source.read(name) for name in files})
        for name in sorted(entries):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), entries[name], zipfile.ZIP_DEFLATED)
    if set(source.namelist()) - set(files) - {"schema.json"}:
        raise ValueError(f"skops wrote files its schema does not name: {sorted(set(source.namelist()) - set(files))}")
    return out.getvalue()


def from_bytes(data: bytes) -> ClassifierMixin:
    """Load skops bytes, refusing any type outside skops' defaults and :data:`TRUSTED`."""
    import skops.io as sio

    untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in TRUSTED]
    if untrusted:
        raise ValueError(f"refusing to load a scikit-learn model with untrusted types {untrusted}")
    est = sio.loads(data, trusted=TRUSTED)
    if not isinstance(est, tuple(ESTIMATORS.values())):
        raise ValueError(f"refusing a stored {type(est).__name__}: not one of {', '.join(ESTIMATORS)}")
    return est


def save(est: ClassifierMixin, path: str, meta: dict[str, Any]) -> None:
    """Write the skops bytes as tensor ``skops`` of a safetensors file, atomically."""
    from safetensors.numpy import save_file

    from xaisim.io import atomic_path

    with atomic_path(path) as tmp:
        save_file(
            {"skops": np.frombuffer(to_bytes(est), dtype=np.uint8)},
            str(tmp),
            # one metadata key: safetensors stores several in hash order, which differs between runs
            metadata={"xaisim": json.dumps({**meta, "format": "skops"}, sort_keys=True)},
        )


def load(path: str) -> ClassifierMixin:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        if json.loads((f.metadata() or {}).get("xaisim", "{}")).get("format") != "skops":
            raise ValueError(f"{path}: not a stored scikit-learn model; rerun train")
        return from_bytes(f.get_tensor("skops").tobytes())


def features(loader: torch.utils.data.DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """Flattened normalised images and labels of every batch of ``loader``."""
    xs, ys = [], []
    for x, y in loader:
        xs.append(x.flatten(1).double().numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def fit(
    spec: dict[str, Any], train_loader: torch.utils.data.DataLoader, val_loader: torch.utils.data.DataLoader,
    *, num_classes: int, seed: int,
) -> tuple[ClassifierMixin, dict[str, Any]]:
    """Fit the entry's estimator on the train images; return it with its metrics."""
    est = estimator(spec["sklearn"], spec.get("kwargs"), seed)
    x, y = features(train_loader)
    start = time.perf_counter()
    est.fit(x, y)
    seconds = round(time.perf_counter() - start, 2)
    xv, yv = features(val_loader)
    scores = SklearnClassifier(est, num_classes)(torch.from_numpy(xv))
    accuracy = float((scores.argmax(1).numpy() == yv).mean())
    log.info("%s on %d x %d features: val accuracy %.4f in %.1f s", spec["sklearn"], *x.shape, accuracy, seconds)
    return est, {
        "train_loss": [],
        "val_accuracy": [accuracy],
        "val_accuracy_final": accuracy,
        "train_seconds": seconds,
        "epochs": 0,
        "features": int(x.shape[1]),
    }
