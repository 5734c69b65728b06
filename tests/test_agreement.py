import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from xaisim.statistics.agreement import agreement, comparisons, error_consistency


def _preds(pred_columns: dict[str, list[int]], labels: list[int]) -> dict[str, pd.DataFrame]:
    ids = [f"i{k}" for k in range(len(labels))]
    return {m: pd.DataFrame({"image_id": ids, "label": labels, "pred": p}) for m, p in pred_columns.items()}


def test_comparisons_count_every_unordered_pair_of_distinct_models_once_per_image():
    # 3 models x 4 images: per image the pairs (a,b), (a,c), (b,c)
    preds = _preds({"a": [0, 1, 2, 0], "b": [0, 1, 1, 1], "c": [0, 2, 2, 0]}, [0, 1, 2, 0])
    same, totals = comparisons(preds, ["i0", "i1", "i2", "i3"])
    # image 0: 3 same; image 1: (a,b) same; image 2: (a,c) same; image 3: (a,c) same
    assert totals.iloc[0].to_dict() == {"images": 4, "models": 3, "pairs": 3, "comparisons": 12,
                                        "same_class": 6, "different_class": 6}
    assert same.loc["a", "b"] == 2 and same.loc["a", "c"] == 3 and same.loc["b", "c"] == 1
    assert (np.diag(same) == 4).all() and (same.to_numpy() == same.to_numpy().T).all()
    _, only_two = comparisons(preds, ["i2", "i3"])
    assert only_two.loc[0, "same_class"] == 2 and only_two.loc[0, "different_class"] == 4


def test_the_thesis_totals_add_up_to_pairs_times_images():
    rng = np.random.default_rng(0)
    labels = list(rng.integers(0, 10, 128))
    preds = _preds({f"m{k}": list(np.where(rng.random(128) < 0.9, labels, rng.integers(0, 10, 128))) for k in range(14)}, labels)
    _, totals = comparisons(preds, [f"i{k}" for k in range(128)])
    assert totals.loc[0, "comparisons"] == 10_207 + 1_441 == 91 * 128
    assert totals.loc[0, "same_class"] + totals.loc[0, "different_class"] == 11_648


def test_error_consistency_is_cohens_kappa_of_correctness():
    rng = np.random.default_rng(1)
    labels = list(rng.integers(0, 3, 50))
    preds = _preds({m: list(np.where(rng.random(50) < acc, labels, (np.array(labels) + 1) % 3))
                    for m, acc in (("a", 0.8), ("b", 0.6), ("c", 0.7))}, labels)
    kappa = error_consistency(preds)
    right = {m: (df["pred"] == df["label"]).to_numpy() for m, df in preds.items()}
    for x in "abc":
        for y in "abc":
            assert kappa.loc[x, y] == pytest.approx(cohen_kappa_score(right[x], right[y]), abs=1e-12)
    assert np.allclose(np.diag(kappa), 1)


def test_error_consistency_of_an_always_right_model_is_undefined(caplog):
    preds = _preds({"a": [0, 1, 2], "b": [0, 1, 1], "c": [0, 1, 2]}, [0, 1, 2])
    kappa = error_consistency(preds)
    assert np.isnan(kappa.loc["a", "c"]) and np.isnan(kappa.loc["a", "a"]) and kappa.loc["b", "b"] == 1
    assert kappa.loc["a", "b"] == cohen_kappa_score([1, 1, 1], [1, 1, 0]) == 0
    assert "both always right or always wrong" in caplog.text


def test_same_prediction_fraction_is_reused_from_predict():
    preds = _preds({"a": [0, 1, 2, 0], "b": [0, 1, 1, 1]}, [0, 1, 2, 0])
    assert agreement(preds).loc["a", "b"] == 0.5
