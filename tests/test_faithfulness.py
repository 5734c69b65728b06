"""Deletion and insertion curves against a direct per-step reference (Petsiuk et al. 2018's loop),
known answers on a linear model, degenerate maps counted, and the sign-flip test's exactness."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from xaisim.io import save_arrays
from xaisim.statistics.faithfulness import auc, better_than_random, curves, explanation_rows, ranks, summary

H = W = 6


class Linear(nn.Module):
    """Two-class logistic model on one channel: logit_1 = w . x, logit_0 = 0."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x.flatten(1) * self.w.flatten()).sum(1)
        return torch.stack([torch.zeros_like(z), z], 1)


def _setup(n: int = 12, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(H, W, generator=g, dtype=torch.float64)
    x = torch.randn(n, 1, H, W, generator=g, dtype=torch.float64) + 0.5 * w.sign()
    return Linear(w), x, torch.ones(n, dtype=torch.long)


def test_curves_equal_a_direct_per_step_loop():
    model, x, targets = _setup(3)
    rank = ranks(np.random.default_rng(1).normal(size=(3, H, W)), (H, W), np.random.default_rng(2))
    steps = 4
    got = curves(model, x, torch.zeros_like(x), targets, rank, steps, batch=2)
    for i in range(3):
        order = np.argsort(rank[i])
        for j in range(steps + 1):
            k = round(j / steps * H * W)
            deleted, inserted = x[i].clone().flatten(), torch.zeros(H * W, dtype=x.dtype)
            deleted[order[:k]] = 0
            inserted[order[:k]] = x[i].flatten()[order[:k]]
            for curve, xi in (("deletion", deleted), ("insertion", inserted)):
                want = model(xi.view(1, 1, H, W)).softmax(1)[0, 1].item()
                assert got[curve][i, j] == pytest.approx(want, abs=1e-12)
    assert auc(np.array([[1.0, 1.0, 0.0]])) == pytest.approx(0.75)


def test_the_deletion_curve_equals_quantus_pixel_flipping():
    # test-only reference (see test_complexity.py for its install); Quantus' PixelFlipping removes
    # features_in_step pixels per step, largest attribution first, replaced by the image's minimum ("black")
    quantus = pytest.importorskip("quantus")
    g = torch.Generator().manual_seed(0)
    w = torch.randn(H, W, generator=g)
    x = torch.randn(5, 1, H, W, generator=g) + 0.5 * w.sign()
    model, targets, steps = Linear(w).eval(), torch.ones(5, dtype=torch.long), 4
    maps = np.random.default_rng(1).normal(size=(5, H, W)).astype(np.float32)  # no ties: one order
    metric = quantus.PixelFlipping(features_in_step=H * W // steps, perturb_baseline="black", abs=False, normalise=False,
                                   disable_warnings=True, display_progressbar=False)
    want = metric(model=model, x_batch=x.numpy(), y_batch=targets.numpy(), a_batch=maps[:, None], device="cpu",
                  softmax=True, channel_first=True)
    black = x.amin(dim=(1, 2, 3), keepdim=True).expand_as(x)
    got = curves(model, x, black, targets, ranks(maps, (H, W), np.random.default_rng(2)), steps, batch=8)["deletion"]
    assert got[:, 1:] == pytest.approx(np.array(want), abs=1e-6)  # Quantus has no point at fraction 0


def test_ties_are_broken_by_the_seed():
    flat = np.zeros((1, H, W))
    a, b = (ranks(flat, (H, W), np.random.default_rng(s)) for s in (0, 0))
    assert (a == b).all() and sorted(a[0]) == list(range(H * W))
    assert not (a == ranks(flat, (H, W), np.random.default_rng(1))).all()


def _file(path, maps, targets, method="m", model="lin", unsupported=""):
    meta = {"model": model, "method": method, "image_ids": [f"i{k}" for k in range(len(targets))]}
    if unsupported:
        meta["unsupported"], maps = unsupported, np.zeros((0, 1, 1))
    save_arrays(path, {"maps": maps.astype(np.float32), "targets": targets.numpy()}, meta)
    return str(path)


def test_the_true_contribution_beats_random_and_a_random_map_does_not(tmp_path, monkeypatch):
    import xaisim.explain.baselines as baselines

    monkeypatch.setattr(baselines, "mean_std", lambda model: ((0.0,), (1.0,)))
    model, x, targets = _setup(12)
    contribution = (x[:, 0] * model.w).numpy()
    noise = np.random.default_rng(5).normal(size=contribution.shape)
    kw = dict(images=12, steps=8, baseline="zero", seed=0, batch=5)
    true_rows, mean_curves = explanation_rows(model, x, _file(tmp_path / "t.st", contribution, targets, method="true"), {}, **kw)
    rand_rows, _ = explanation_rows(model, x, _file(tmp_path / "r.st", noise, targets, method="noise"), {}, **kw)
    table = summary(pd.concat([true_rows, rand_rows]), seed=0).set_index("method")
    assert (true_rows["deletion_map"] < true_rows["deletion_random"]).mean() > 0.9
    assert table.loc["true", "deletion_p"] < 0.01 and table.loc["true", "insertion_p"] < 0.01
    assert table.loc["true", "verdict"] == "deletion better than random; insertion better than random"
    assert table.loc["noise", "deletion_p"] > 0.05
    assert table.loc["true", "test"] == "exact sign-flip" and table.loc["true", "min_p"] == pytest.approx(0.5**12)
    assert set(mean_curves["order"]) == {"map", "random"} and len(mean_curves) == 2 * 2 * 9


def test_degenerate_maps_are_nan_rows_with_the_reason(tmp_path, monkeypatch, caplog):
    import xaisim.explain.baselines as baselines

    monkeypatch.setattr(baselines, "mean_std", lambda model: ((0.0,), (1.0,)))
    model, x, targets = _setup(4)
    maps = (x[:, 0] * model.w).numpy()
    maps[1] = 0
    maps[2, 0, 0] = np.nan
    kw = dict(images=4, steps=2, baseline="blur", seed=0, batch=8)
    rows, _ = explanation_rows(model, x, _file(tmp_path / "a.st", maps, targets), {}, **kw)
    assert list(rows["reason"]) == ["", "all-zero map", "non-finite map", ""]
    assert rows.loc[1:2, "deletion_map"].isna().all() and rows.loc[[0, 3], "deletion_map"].notna().all()
    assert "2 of 4 maps left out" in caplog.text
    gone, _ = explanation_rows(model, x, _file(tmp_path / "u.st", maps, targets, model="other", unsupported="no layer"), {}, **kw)
    table = summary(pd.concat([rows, gone]), seed=0)
    assert table["counted"].tolist() == [2, 0]
    assert table.loc[1, "reason"] == "unsupported: no layer" and np.isnan(table.loc[1, "deletion_auc"])
    # one model, a supported and an unsupported method: curves of the first only; a model no method
    # explains: a curves table with its columns and no rows (its part is joined like the others)
    import types

    import xaisim.driver as driver
    from xaisim.statistics.faithfulness import CURVE_COLUMNS, faithfulness_tables

    rows_of = pd.DataFrame({"image_id": [f"i{k}" for k in range(4)]})
    loaded = types.SimpleNamespace(model=model, rows=rows_of, first=lambda n, device: (x[:n], None))
    monkeypatch.setattr(driver, "load", lambda *args, **kwargs: loaded)
    _file(tmp_path / "u2.st", maps, targets, unsupported="no layer")
    kw = dict(index_path="", subset_path="", image_size=H, images=4, steps=2, baseline="blur", seed=0, batch=8, device="cpu")
    lin = {"lin": {"spec": {}, "weights": "", "predictions": ""}}
    both = {"a": {"params": {"lin": {}}}, "u": {"params": {"lin": {}}}}
    per_image, mean_curves = faithfulness_tables(lin, both, [str(tmp_path / "a.st"), str(tmp_path / "u2.st")], **kw)
    assert len(per_image) == 8 and len(mean_curves) == 2 * 2 * 3 and mean_curves["probability"].dtype == np.float64
    _, none = faithfulness_tables(lin, {"u": both["u"]}, [str(tmp_path / "u2.st")], **kw)
    assert none.empty and list(none.columns) == CURVE_COLUMNS


def test_the_sign_flip_test_is_exact_for_few_images_and_monte_carlo_above():
    exact = better_than_random(np.arange(1.0, 6.0), seed=0)
    assert exact["test"] == "exact sign-flip" and exact["p"] == pytest.approx(1 / 32)
    mc = better_than_random(np.linspace(0.1, 1, 20), seed=0)
    assert mc["test"].startswith("Monte-Carlo") and mc["min_p"] == pytest.approx(1e-4)
    assert np.isnan(better_than_random(np.array([1.0]), seed=0)["p"])


def test_the_trust_section_counts_the_models_better_than_random():
    from xaisim.summary import trust_section

    table = pd.DataFrame({"method": ["ig", "ig", "gc"], "model": ["a", "b", "a"], "images": [8, 8, 8],
                          "counted": [8, 6, 0], "deletion_p": [0.01, 0.2, np.nan], "insertion_p": [0.01, 0.03, np.nan],
                          "min_p": [2**-8, 2**-6, np.nan]})
    text = "\n".join(trust_section({"faithfulness": table}))
    assert "| ig | 2 | 2 | 1 of 2 | 2 of 2 | 0.00391 |" in text and "| gc | 1 | 8 | 0 of 0 | 0 of 0 | n/a |" in text
    few = table.assign(min_p=[0.25, 0.25, np.nan], deletion_p=[0.25, 0.5, np.nan], insertion_p=[0.25, 0.25, np.nan])
    assert "| ig | 2 | 2 | cannot reject: smallest attainable p 0.25 | cannot reject: smallest attainable p 0.25 | 0.25 |" in (
        "\n".join(trust_section({"faithfulness": few})))
