"""Similarity metrics against scipy / scikit-learn / scikit-image, normalisation, grids, the pass, summaries."""

import logging
import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import pdist
from skimage.metrics import structural_similarity
from sklearn.metrics import cohen_kappa_score, jaccard_score
from sklearn.metrics.pairwise import cosine_similarity, rbf_kernel

from xaisim.io import ArrayFile, save_arrays
from xaisim.similarity import METRICS, Chunk, aggregate, grids, normalise, stream
from xaisim.similarity.metrics import average_ranks, gram, gram_blocks, top_count


def _maps(b=3, m=4, h=9, w=8, seed=0, levels=None):
    x = np.random.default_rng(seed).standard_normal((b, m, h, w)).astype(np.float32)
    if levels:  # quantised: many ties
        x = np.round(x * levels) / levels
    return x


def _top(a, k, by_abs):
    key = np.abs(a) if by_abs else a
    return np.argsort(-key, kind="stable")[: top_count(k, a.size)]


def _krishna(a, b, k, kind):
    ta, tb = _top(a, k, True), _top(b, k, True)
    n = len(ta)
    if kind == "feature":
        return len(set(ta) & set(tb)) / n
    if kind == "sign":
        return sum(np.sign(a[f]) == np.sign(b[f]) for f in set(ta) & set(tb)) / n
    same = ta == tb
    if kind == "signed_rank":
        same &= np.sign(a[ta]) == np.sign(b[tb])
    return same.sum() / n


def _iou(a, b, k):
    ma, mb = np.zeros(a.size, bool), np.zeros(b.size, bool)
    ma[_top(a, k, False)] = True
    mb[_top(b, k, False)] = True
    return jaccard_score(ma, mb)


# metric -> (params, reference on two flattened maps, reference on two 2-d maps or None, levels)
REFERENCES = {
    "cosine": ({}, lambda a, b: cosine_similarity(a[None], b[None])[0, 0], None),
    "rbf": ({"sigma": 2.5}, lambda a, b: rbf_kernel(a[None], b[None], gamma=1 / (2 * 2.5**2))[0, 0], None),
    "pearson": ({}, lambda a, b: stats.pearsonr(a, b)[0], None),
    "spearman": ({}, lambda a, b: stats.spearmanr(a, b)[0], None),
    "ssim": ({"data_range": 6.0}, None, lambda a, b: structural_similarity(a, b, data_range=6.0, win_size=7)),
    "topk_iou": ({"k": 20}, lambda a, b: _iou(a, b, 20), None),
    "feature_agreement": ({"k": 25}, lambda a, b: _krishna(a, b, 25, "feature"), None),
    "rank_agreement": ({"k": 25}, lambda a, b: _krishna(a, b, 25, "rank"), None),
    "topk_sign_agreement": ({"k": 25}, lambda a, b: _krishna(a, b, 25, "sign"), None),
    "signed_rank_agreement": ({"k": 25}, lambda a, b: _krishna(a, b, 25, "signed_rank"), None),
    "sign_agreement": ({}, lambda a, b: np.mean(np.sign(a) == np.sign(b)), None),
    "cohen_kappa": (
        {"thresholds": [-0.5, 0.0, 0.7]},
        lambda a, b: cohen_kappa_score(np.digitize(a, [-0.5, 0.0, 0.7]), np.digitize(b, [-0.5, 0.0, 0.7])),
        None,
    ),
}


def test_every_registered_metric_has_a_reference_here():
    assert sorted(REFERENCES) == METRICS.names()


# OpenXAI's top-k definitions order tied values by its sort; ours take no order (tests/test_topk_ties.py)
TIE_FREE = {"topk_iou", "feature_agreement", "rank_agreement", "topk_sign_agreement", "signed_rank_agreement"}


@pytest.mark.parametrize(
    ("name", "levels"), [(n, lv) for n in sorted(REFERENCES) for lv in (None, 2) if not (lv and n in TIE_FREE)]
)
def test_metric_equals_its_reference_and_is_symmetric(name, levels):
    params, flat_ref, image_ref = REFERENCES[name]
    x = _maps(levels=levels)
    x[1, 2] = x[1, 0]  # an identical pair: rank and rank-sign agreement of 1
    sims = METRICS.get(name)(Chunk(torch.from_numpy(x)), **params).numpy()
    b, m = x.shape[:2]
    assert sims.shape == (b, m, m) and sims.dtype == np.float64
    want = np.empty_like(sims)
    for i in range(b):
        for p in range(m):
            for q in range(m):
                a, c = x[i, p].astype(np.float64), x[i, q].astype(np.float64)
                want[i, p, q] = image_ref(a, c) if image_ref else flat_ref(a.ravel(), c.ravel())
    np.testing.assert_allclose(sims, want, atol=2e-6, rtol=0)
    np.testing.assert_allclose(sims, sims.transpose(0, 2, 1), atol=1e-12)
    np.testing.assert_allclose(np.diagonal(sims, axis1=1, axis2=2), 1.0, atol=1e-6)


def test_rbf_auto_sigma_is_the_median_pairwise_distance_and_scale_free():
    x = _maps(m=5)
    sims = METRICS.get("rbf")(Chunk(torch.from_numpy(x)), sigma="auto").numpy()
    for i in range(len(x)):
        flat = x[i].reshape(len(x[i]), -1).astype(np.float64)
        sigma = np.median(pdist(flat))
        np.testing.assert_allclose(sims[i], rbf_kernel(flat, gamma=1 / (2 * sigma**2)), atol=1e-6)
    scaled = METRICS.get("rbf")(Chunk(torch.from_numpy(x * 1000)), sigma="auto").numpy()
    np.testing.assert_allclose(scaled, sims, atol=1e-5)


def test_average_ranks_equal_scipy_with_ties():
    x = torch.from_numpy(_maps(levels=1)).flatten(2)
    np.testing.assert_array_equal(average_ranks(x).numpy(), stats.rankdata(x.numpy(), axis=-1))


def test_zero_and_constant_maps_have_similarity_zero_not_nan():
    x = _maps()
    x[0, 1] = 0
    x[0, 2] = 3.0
    chunk = Chunk(torch.from_numpy(x))
    for name in ("cosine", "pearson", "spearman"):
        sims = METRICS.get(name)(chunk).numpy()
        assert np.isfinite(sims).all()
        no_spread = [1] if name == "cosine" else [1, 2]  # cosine: only the zero map
        for model in no_spread:
            assert (sims[0, model] == 0).all() and (sims[0, :, model] == 0).all()
        assert (sims[1:, 1] != 0).all()


# --- normalisation -----------------------------------------------------------------------------


def test_normalisation_steps_match_numpy():
    x = _maps(b=2, m=1)[:, 0] * 5 + 1
    t = torch.from_numpy(x)
    lo, hi = x.min((1, 2), keepdims=True), x.max((1, 2), keepdims=True)
    np.testing.assert_allclose(normalise.minmax(t), (x - lo) / (hi - lo), atol=1e-6)
    np.testing.assert_allclose(normalise.maxabs(t), x / np.abs(x).max((1, 2), keepdims=True), atol=1e-6)
    np.testing.assert_allclose(normalise.absolute(t), np.abs(x))
    z = (x - x.mean((1, 2), keepdims=True)) / x.std((1, 2), keepdims=True)
    np.testing.assert_allclose(normalise.zscore(t), z, atol=1e-5)
    q = np.percentile(x, [0.3, 99.7], axis=(1, 2))
    clipped = np.clip(x, q[0][:, None, None], q[1][:, None, None])
    np.testing.assert_allclose(normalise.percentile(t), clipped / np.abs(clipped).max((1, 2), keepdims=True), atol=1e-6)
    for fn in (normalise.minmax, normalise.maxabs, normalise.zscore, normalise.percentile):
        assert (fn(torch.zeros(2, 3, 3)) == 0).all()
    assert (normalise.minmax(torch.full((1, 3, 3), 7.0)) == 0).all()


def test_thesis_ig_recipe_and_its_absolute_value_run():
    """IG: clip to 0.3/99.7 %, divide by max |x|; the later run took |.| after that."""
    raw = torch.from_numpy(_maps(b=3, m=1, h=32, w=32)[:, 0] ** 3)
    flat = raw.flatten(1).numpy().astype(np.float64)
    lo, hi = np.percentile(flat, [0.3, 99.7], axis=1)
    want = np.clip(flat, lo[:, None], hi[:, None])
    want = (want / np.abs(want).max(1, keepdims=True)).reshape(raw.shape)
    steps = normalise.parse(["percentile", "resize"], "n")
    np.testing.assert_allclose(stream.prepare(raw, steps, (32, 32)), want, atol=1e-5)  # float32 quantiles
    steps = normalise.parse(["percentile", "abs", "resize"], "n")
    np.testing.assert_allclose(stream.prepare(raw, steps, (32, 32)), np.abs(want), atol=1e-5)


def test_steps_before_resize_run_at_the_native_grid():
    raw = torch.tensor([[[0.0, 1.0], [2.0, 4.0]]])
    steps = normalise.parse(["minmax", "resize", "minmax"], "n")
    out = stream.prepare(raw, steps, (4, 4))
    up = torch.nn.functional.interpolate((raw / 4)[:, None], size=(4, 4), mode="bilinear", align_corners=False)[:, 0]
    torch.testing.assert_close(out, (up - up.min()) / (up.max() - up.min()))
    assert normalise.split(normalise.parse(["abs"], "n")) == ([], [("abs", {})])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["minmax", "softmax"], r"m\.normalise\[1\]: unknown normalisation 'softmax'"),
        ([{"percentile": {"low": 120}}], r"m\.normalise\[0\]\.percentile\.low: Input should be less than or equal to 100"),
        ([{"percentile": {"low": 50, "high": 10}}], r"m\.normalise\[0\]\.percentile\.low: 50.0 is above high"),
        (["resize", "abs", "resize"], r"m\.normalise: 'resize' may appear once"),
    ],
)
def test_bad_normalisation_names_the_field(spec, message):
    with pytest.raises(ValueError, match=message):
        normalise.parse(spec, "m.normalise")


# --- grids -------------------------------------------------------------------------------------


def test_common_grids():
    native = [(7, 7), (14, 14), (224, 224)]
    assert grids.common_grid("input", native, 224, "abc") == (224, 224)
    assert grids.common_grid("coarsest", native, 224, "abc") == (7, 7)
    assert grids.common_grid(56, native, 224, "abc") == (56, 56)
    assert grids.common_grid("native", [(1, 9), (1, 9)], 224, "ab") == (1, 9)
    with pytest.raises(ValueError, match=r"grid 'native' needs maps of one shape, got a \(7, 7\), b \(14, 14\)"):
        grids.common_grid("native", native, 224, "abc")
    with pytest.raises(ValueError, match="m.grid: grid must be one of input, coarsest, native or a size"):
        grids.check("finest", "m.grid")


def test_resize_keeps_constant_maps_and_averages_when_shrinking():
    assert torch.equal(grids.resize(torch.full((1, 4, 4), 0.5), (8, 8)), torch.full((1, 8, 8), 0.5))
    checker = (torch.arange(64).reshape(8, 8) + torch.arange(8)[:, None]) % 2
    small = grids.resize(checker[None].float(), (2, 2))
    torch.testing.assert_close(small, torch.full((1, 2, 2), 0.5), atol=0.05, rtol=0)


# --- the pass and the summaries ------------------------------------------------------------------


def _files(tmp_path, maps, ids, unsupported=()):
    paths = []
    for m, arr in maps.items():
        path = tmp_path / f"{m}.safetensors"
        meta = {"image_ids": ids}
        if m in unsupported:
            arr, meta = np.zeros((0, 1, 1), np.float32), {**meta, "unsupported": "no attention"}
        save_arrays(path, {"maps": arr}, meta)
        paths.append(str(path))
    return paths


METRIC_SET = {"cosine": ("cosine", {}), "rbf": ("rbf", {"sigma": 3.0}), "iou": ("topk_iou", {"k": 30.0})}


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_pass_over_native_grids_equals_the_direct_computation(tmp_path, chunk):
    rng = np.random.default_rng(2)
    ids = [f"img{i}" for i in range(7)]
    maps = {"a": rng.random((7, 4, 4), np.float32), "b": rng.random((7, 8, 8), np.float32),
            "c": rng.random((7, 8, 8), np.float32)}
    paths = _files(tmp_path, maps, ids)
    steps = ["minmax", "resize", "minmax"]
    res = stream.run(paths, list(maps), normalise_steps=steps, grid="input", image_size=8, metrics=METRIC_SET,
                     zero_maps="exclude", chunk_size=chunk)
    assert res.models == ["a", "b", "c"] and res.image_ids == ids and res.grid == (8, 8)
    parsed = normalise.parse(steps, "n")
    prepared = torch.stack([stream.prepare(torch.from_numpy(v), parsed, (8, 8)) for v in maps.values()], 1)
    for name, (metric, params) in METRIC_SET.items():
        np.testing.assert_allclose(res.sims[name], METRICS.get(metric)(Chunk(prepared), **params).numpy(), atol=1e-12)
    assert res.counts["zero_maps"].tolist() == [0, 0, 0]


def test_values_do_not_depend_on_the_chunk_size(tmp_path):
    """chunk_size is a memory knob: any chunking gives the same bytes (maps of more than one Gram
    block, float16 and float32 files, read as they are and through normalisation)."""
    rng = np.random.default_rng(5)
    ids = [f"img{i}" for i in range(11)]
    maps = {"a": rng.random((11, 40, 40), np.float32), "b": rng.random((11, 40, 40)).astype(np.float16),
            "c": rng.standard_normal((11, 40, 40), np.float32)}
    maps["c"][4] = 0  # an all-zero map
    paths = _files(tmp_path, maps, ids)
    metrics = {**METRIC_SET, "pearson": ("pearson", {})}
    for steps in ("none", ["maxabs"]):
        runs = [stream.run(paths, list(maps), normalise_steps=steps, grid="native", image_size=0, metrics=metrics,
                           zero_maps="exclude", chunk_size=chunk) for chunk in (1, 4, 11, "auto")]
        for other in runs[1:]:
            for name in metrics:
                np.testing.assert_array_equal(other.sims[name], runs[0].sims[name])
        assert runs[0].counts["zero_maps"].tolist() == [0, 0, 1]


def test_gram_sums_float32_blocks_in_float64_and_auto_chunks_keep_the_memory_budget():
    x = torch.from_numpy(np.random.default_rng(6).random((3, 4, 2500), np.float32))
    exact = torch.einsum("bmd,bnd->bmn", x.double(), x.double())
    assert gram_blocks(2500) == (3, 834) and gram_blocks(49) == (1, 49)
    torch.testing.assert_close(gram(x), exact, rtol=5e-7, atol=0)
    for models, hw in [(14, (224, 224)), (3, (7, 7)), (2000, (512, 512))]:
        chunk = stream.chunk_images("auto", models, hw)
        per_image = 4 * models * math.prod(gram_blocks(hw[0] * hw[1]))
        assert chunk >= 1 and (chunk == 1 or 2 * chunk * per_image <= stream.CHUNK_MB * 2**20)
    assert stream.chunk_images(7, 14, (224, 224)) == 7


def test_grid_coarsest_brings_every_model_to_the_coarsest_native_grid(tmp_path):
    rng = np.random.default_rng(3)
    maps = {"a": rng.random((2, 4, 4), np.float32), "b": rng.random((2, 16, 16), np.float32)}
    res = stream.run(_files(tmp_path, maps, ["x", "y"]), ["a", "b"], normalise_steps="none", grid="coarsest",
                     image_size=64, metrics={"cosine": ("cosine", {})}, zero_maps="exclude", chunk_size=4)
    assert res.grid == (4, 4)
    small = grids.resize(torch.from_numpy(maps["b"]), (4, 4)).flatten(1).numpy()
    for i in range(2):
        want = cosine_similarity(maps["a"][i].reshape(1, -1), small[i : i + 1])[0, 0]
        assert res.sims["cosine"][i, 0, 1] == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("policy", ["exclude", "zero"])
def test_zero_map_policy_counts_and_self_distance(tmp_path, policy):
    rng = np.random.default_rng(4)
    ids = [f"i{i}" for i in range(6)]
    maps = {"a": rng.random((6, 5, 5), np.float32), "b": rng.random((6, 5, 5), np.float32),
            "c": rng.random((6, 5, 5), np.float32)}
    maps["b"][[1, 4]] = 0
    maps["c"][2, 0, 0] = np.nan
    res = stream.run(_files(tmp_path, maps, ids), list(maps), normalise_steps="none", grid="input", image_size=5,
                     metrics={"cosine": ("cosine", {})}, zero_maps=policy, chunk_size=4)
    assert res.counts.set_index("model")[["zero_maps", "nonfinite_maps"]].to_dict("index") == {
        "a": {"zero_maps": 0, "nonfinite_maps": 0}, "b": {"zero_maps": 2, "nonfinite_maps": 0},
        "c": {"zero_maps": 0, "nonfinite_maps": 1}}
    sims = res.sims["cosine"]
    assert np.isnan(sims[2, 2]).all() and np.isnan(sims[2, :, 2]).all()
    if policy == "exclude":
        assert np.isnan(sims[[1, 4], 1]).all() and np.isnan(sims[[1, 4], :, 1]).all()
    else:
        assert (sims[[1, 4], 1] == 0).all() and (sims[[1, 4], :, 1] == 0).all()
    summary = aggregate.summarise(sims, np.ones_like(sims, bool), 200, 0)
    keep = [0, 2, 3, 5]
    if policy == "exclude":
        assert summary["distance"][1, 1] == pytest.approx(0, abs=1e-6)
        assert summary["mean"][0, 1] == pytest.approx(sims[keep, 0, 1].mean())
    else:  # the thesis: a model with zero maps is not at distance 0 from itself
        assert summary["distance"][1, 1] > 0.3
    assert summary["mean"][0, 2] == pytest.approx(np.delete(sims[:, 0, 2], 2).mean())


def test_unsupported_models_are_left_out_and_listed(tmp_path):
    rng = np.random.default_rng(5)
    maps = {m: rng.random((3, 4, 4), np.float32) for m in "abc"}
    paths = _files(tmp_path, maps, ["x", "y", "z"], unsupported={"b"})
    res = stream.run(paths, list(maps), normalise_steps="none", grid="native", image_size=4,
                     metrics={"cosine": ("cosine", {})}, zero_maps="exclude", chunk_size=2)
    assert res.models == ["a", "c"] and res.sims["cosine"].shape == (3, 2, 2)
    assert res.counts["unsupported"].tolist() == ["", "no attention", ""]
    assert res.counts["images"].tolist() == [3, 0, 3]


def test_matching_variant_uses_exactly_the_images_with_equal_predictions(tmp_path, caplog):
    ids = [f"i{i}" for i in range(5)]
    preds = {"a": [0, 1, 2, 3, 4], "b": [0, 9, 2, 9, 4], "c": [7, 7, 7, 7, 7]}
    paths = []
    for m, p in preds.items():
        paths.append(tmp_path / f"{m}.csv")
        paths[-1].write_text("image_id,pred\n" + "".join(f"{i},{c}\n" for i, c in zip(ids, p)))
    same = aggregate.same_prediction([str(p) for p in paths], ids)
    assert same[:, 0, 1].tolist() == [True, False, True, False, True]
    sims = np.random.default_rng(6).random((5, 3, 3))
    sims = (sims + sims.transpose(0, 2, 1)) / 2
    summary = aggregate.summarise(sims, same, 100, 0)
    assert summary["mean"][0, 1] == pytest.approx(sims[[0, 2, 4], 0, 1].mean())
    assert summary["std"][0, 1] == pytest.approx(sims[[0, 2, 4], 0, 1].std(ddof=1))
    assert np.isnan(summary["mean"][0, 2]) and np.isnan(summary["distance"][0, 2])
    assert summary["mean"][2, 2] == pytest.approx(sims[:, 2, 2].mean())


def test_summaries_distance_and_seeded_bootstrap():
    sims = np.random.default_rng(1).random((40, 3, 3))
    use = np.ones_like(sims, bool)
    s = aggregate.summarise(sims, use, 500, 7)
    np.testing.assert_allclose(s["std"], np.std(sims, axis=0, ddof=1))
    np.testing.assert_allclose(s["distance"], np.hypot(1 - sims.mean(0), np.std(sims, axis=0, ddof=1)))
    assert (s["ci_low"] < s["mean"]).all() and (s["mean"] < s["ci_high"]).all()
    se = sims.std(0, ddof=1) / math.sqrt(40)  # a 95 % interval spans about 4 standard errors
    np.testing.assert_allclose(s["ci_high"] - s["ci_low"], 3.92 * se, rtol=0.25)
    again = aggregate.summarise(sims, use, 500, 7)
    assert np.array_equal(s["ci_low"], again["ci_low"])
    assert not np.array_equal(s["ci_low"], aggregate.summarise(sims, use, 500, 8)["ci_low"])


def test_write_produces_the_documented_layout(tmp_path, caplog, monkeypatch):
    rng = np.random.default_rng(8)
    ids = ["x", "y", "z"]
    maps = {m: rng.random((3, 4, 4), np.float32) for m in "ab"}
    res = stream.run(_files(tmp_path, maps, ids), ["a", "b"], normalise_steps="none", grid="input", image_size=4,
                     metrics=METRIC_SET, zero_maps="exclude", chunk_size=2)
    same = np.zeros((3, 2, 2), bool)
    same[:, [0, 1], [0, 1]] = True
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path / "out")  # the catalogue's paths are relative to the workflow's folder
    with caplog.at_level(logging.WARNING):
        aggregate.write("M", res, same, METRIC_SET, {"method": "M"}, n_boot=50, seed=0)
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.*"))
    assert written == sorted(aggregate.output_paths("M", list(METRIC_SET)))
    f = ArrayFile(tmp_path / "out/results/similarity/M/cosine/per_image.safetensors")
    assert f.meta["models"] == ["a", "b"] and f.meta["image_ids"] == ids and f.read("similarity").shape == (3, 2, 2)
    assert "M/cosine/matching: no image for 1 pair(s): a/b" in caplog.text


# --- config: bad values fail when the DAG is built, naming the field -----------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["metrics"][1]["params"].update(sigma=0), r"config metrics\[1\]\.params\.sigma: Input should be greater than 0"),
        (lambda c: c["metrics"][1]["params"].update(sigma="median"), r"config metrics\[1\]\.params\.sigma: .*'median'"),
        (lambda c: c["metrics"].append({"name": "iou", "metric": "topk_iou", "params": {"k": 0}}),
         r"config metrics\[2\]\.params\.k: Input should be greater than 0"),
        (lambda c: c["metrics"].append({"name": "iou", "metric": "topk_iou", "params": {"k": 101}}),
         r"config metrics\[2\]\.params\.k: Input should be less than or equal to 100"),
        (lambda c: c["metrics"].append({"name": "s", "metric": "ssim", "params": {"win_size": 4}}),
         r"config metrics\[2\]\.params\.win_size: Value error, must be odd"),
        (lambda c: c["metrics"].append({"name": "kappa", "metric": "cohen_kappa", "params": {"thresholds": [0.5, 0.2]}}),
         r"config metrics\[2\]\.params\.thresholds: Value error, must be strictly increasing"),
        (lambda c: c["methods"][0].update(normalise=["minmax", "l2"]), r"config methods\[0\]\.normalise\[1\]: unknown normalisation 'l2'"),
        (lambda c: c["methods"][1].update(normalise=[{"percentile": {"high": 100.5}}]),
         r"config methods\[1\]\.normalise\[0\]\.percentile\.high: Input should be less than or equal to 100"),
        (lambda c: c["methods"][0].update(grid=0), r"config methods\[0\]\.grid: grid must be one of"),
        (lambda c: c["methods"][0].update(metrics=["cosine", "ssim"]), r"config methods\[0\]\.metrics: no metric entry named \['ssim'\]"),
        (lambda c: (c["metrics"].append({"name": "s", "metric": "ssim", "params": {"win_size": 9}}), c["methods"][0].update(grid=8)),
         r"config metrics\[2\]\.params\.win_size: 9 exceeds the 8x8 grid of config methods\[0\] \(s\)"),
        (lambda c: (c["metrics"].append({"name": "s", "metric": "ssim", "params": {"win_size": 33}})),
         r"config metrics\[2\]\.params\.win_size: 33 exceeds the 32x32 grid of config methods\[0\]"),
        (lambda c: (c["metrics"].append({"name": "s", "metric": "ssim"}), c["methods"][0].update(grid="coarsest")),
         r"config metrics\[2\]\.params\.win_size: 7 exceeds the 4x4 grid of config methods\[0\] \(s\)"),  # GradCAM's layer
    ],
)
def test_bad_similarity_settings_fail_the_config_check_naming_the_field(repo, edit, message):
    import yaml

    from xaisim.config import ConfigError, check

    config = yaml.safe_load((repo / "configs" / "tiny.yaml").read_text())
    edit(config)
    with pytest.raises(ConfigError, match=message) as err:
        check(config)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_row_slices_are_read_without_a_memory_map_and_equal_the_whole_array(tmp_path, dtype):
    maps = np.random.default_rng(9).random((9, 3, 4)).astype(dtype)
    save_arrays(tmp_path / "m.safetensors", {"targets": np.arange(9), "maps": maps}, {"image_ids": list("abcdefghi")})
    f = ArrayFile(tmp_path / "m.safetensors")
    for start, stop in [(0, 9), (2, 5), (7, 20), (4, 4)]:
        np.testing.assert_array_equal(f.read("maps", start, stop), maps[start:stop])
    np.testing.assert_array_equal(f.read("targets", 3, 5), [3, 4])
    block = np.zeros((4, 2, 3, 4), dtype)  # one model's column of a (B, M, H, W) block: rows not adjacent
    f.read_into("maps", 5, block[:, 1])
    np.testing.assert_array_equal(block[:, 1], maps[5:9])
    assert not block[:, 0].any()
    with pytest.raises(ValueError, match="cannot read rows 7:11"):
        f.read_into("maps", 7, block[:, 1])
