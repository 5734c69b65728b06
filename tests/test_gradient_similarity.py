"""Gradient similarity (alibi's kernels) against a plain per-sample zero_grad/backward loop, its
memory policy, projection, reference set, config checks and the stage's file."""

import copy

import numpy as np
import pandas as pd
import pytest
import timm
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

from xaisim import models
from xaisim.config import ConfigError, check
from xaisim.driver import explain_model
from xaisim.examples import gradients, similarity
from xaisim.examples.gradient_similarity import reference_subset
from xaisim.examples.gradients import CountSketch, select_parameters
from xaisim.examples.similarity import gradient_similarity_scores
from xaisim.identical_class import identical_class
from xaisim.io import ArrayFile
from xaisim.plots import examples
from xaisim.runtime import get_device

KERNELS = ["grad_dot", "grad_cos", "grad_asym_dot"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """vmap'd backward passes with 2 threads on a loaded 2-core machine run ~40x slower than with 1."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = timm.create_model("test_efficientnet", num_classes=4).eval()
    x, xr = torch.randn(5, 3, 16, 16), torch.randn(9, 3, 16, 16)
    y, yr = torch.tensor([0, 1, 2, 3, 1]), torch.arange(9) % 4
    return model, x, y, xr, yr


@pytest.fixture(scope="module")
def loop(setup):
    model, x, y, xr, yr = setup
    return loop_gradients(model, x, y), loop_gradients(model, xr, yr)


def loop_gradients(model, x, y, names=None):
    """alibi's way: one sample at a time, zero_grad, backward, concatenate the parameters' .grad."""
    out = []
    for i in range(len(x)):
        model.zero_grad()
        F.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        out.append(torch.cat([p.grad.flatten() for n, p in model.named_parameters() if names is None or n in names]))
    model.zero_grad()
    return torch.stack(out).double()


def alibi_kernel(kernel, gx, gr, eps=1e-7):
    dot = gx @ gr.T
    if kernel == "grad_dot":
        return dot
    if kernel == "grad_cos":
        return dot / (gx.norm(dim=1)[:, None] @ gr.norm(dim=1)[None, :] + eps)
    return dot / (gr.norm(dim=1) ** 2 + eps)[None, :]


def batches(xr, yr, size=4):
    return lambda: [(xr[i : i + size], yr[i : i + size]) for i in range(0, len(xr), size)]


@pytest.mark.parametrize("kernel", KERNELS)
def test_scores_equal_a_per_sample_backward_loop(setup, loop, kernel):
    model, x, y, xr, yr = setup
    got = gradient_similarity_scores(model, x, y, batches(xr, yr), len(xr), kernel=kernel)
    gx, gr = loop
    expected = alibi_kernel(kernel, gx, gr)
    scale = expected.abs().max()
    assert (got.scores - expected).abs().max() <= 1e-5 * scale
    assert torch.allclose(got.reference_sq_norms, gr.square().sum(1), rtol=1e-5)
    assert torch.equal(got.reference_preds, model(xr).argmax(1))
    assert all(p.grad is None for p in model.parameters())  # no .grad touched


VIT = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 2, "num_heads": 2, "class_token": False,
       "global_pool": "avg"}  # a ViT-style Linear stack: 16 tokens
ARCHS = {"resnet10t": ("resnet10t", {}), "test_efficientnet": ("test_efficientnet", {}),
         "convnext_atto": ("convnext_atto", {}), "vit": ("vit_tiny_patch16_224", VIT),
         "vit_tokens": ("vit_tiny_patch16_224", {**VIT, "class_token": True, "reg_tokens": 2, "global_pool": "token"})}


def every_ghost(how, model):
    """``how`` with every Linear and one-group Conv2d weight left as factors."""
    how.ghost = set(how.shapes)
    return how


@pytest.fixture(scope="module")
def nets():
    """Per architecture: the model, 3 images, targets and the loop's gradients."""
    out = {}
    for name, (arch, kwargs) in ARCHS.items():
        torch.manual_seed(0)
        model = timm.create_model(arch, num_classes=3, **kwargs).eval()
        x, y = torch.randn(3, 3, 32, 32), torch.tensor([0, 2, 1])
        out[name] = model, x, y, loop_gradients(model, x, y)
    return out


@pytest.mark.parametrize("way", ["vmap", "layers", "ghost"])
@pytest.mark.parametrize("arch", ARCHS)
def test_every_per_sample_gradient_path_equals_the_loop(nets, monkeypatch, arch, way):
    """vmap; the layer pass (ResNet with in-place ReLUs, BatchNormAct2d, ConvNeXt's LayerNorm2d and
    layer scale, a ViT's LayerNorm, Linear, position embedding, class and register tokens); and the
    ghost factors of every Linear/Conv2d weight, materialised and in inner products."""
    model, x, y, expected = nets[arch]
    names = [n for n, _ in model.named_parameters()]
    how = gradients.plan(model, names, x[:1])
    assert how.layers and not how.ghost and not how.others
    if way == "vmap":
        how = gradients.Plan({}, set(), names, 0)
    if way == "ghost":
        how = every_ghost(how, model)
    got, logits = gradients.per_sample_gradients(model, names, x, y, how)
    assert (got.double() - expected).abs().max() <= 1e-5 * expected.abs().max()
    assert torch.allclose(logits, model(x), atol=1e-5)
    assert all(p.grad is None for p in model.parameters()) and all(p.requires_grad for p in model.parameters())
    if way == "ghost":
        blocks, _, _ = gradients.gradient_blocks(model, names, x, y, how)
        factors = [g for _, g in blocks if isinstance(g, gradients.Factors)]
        assert len(factors) == len(how.ghost)
        for f in factors:
            g = f.materialise().double()
            assert torch.allclose(f.sq_norms(), g.square().sum(1), rtol=1e-5)
            assert torch.allclose(f.dots(gradients.Factors(f.a[:2], f.d[:2])), g @ g[:2].T, rtol=1e-4, atol=1e-6 * g.square().sum(1).max())


def test_layer_pass_falls_back_to_the_weights_for_a_layer_not_fed_by_the_input(monkeypatch):
    """Attention pooling's query is a Linear of a learned latent: no input gradient reaches it, so
    the layer pass drives its backward to the weights instead (the latent itself from vmap)."""
    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", num_classes=3, **{**VIT, "global_pool": "map"}).eval()
    names = [n for n, _ in model.named_parameters()]
    monkeypatch.setattr(gradients, "DENSE_CONV_SHARE", -1.0)
    how = gradients.plan(model, names, torch.zeros(1, 3, 32, 32))
    assert "attn_pool.q" in how.layers and how.others == ["attn_pool.latent"]
    calls = []
    real = gradients._layer_pass
    monkeypatch.setattr(gradients, "_layer_pass", lambda *a, **k: calls.append(k) or real(*a, **k))
    x, y = torch.randn(3, 3, 32, 32), torch.tensor([0, 2, 1])
    got, _ = gradients.per_sample_gradients(model, names, x, y, how)
    expected = loop_gradients(model, x, y)
    assert (got.double() - expected).abs().max() <= 1e-5 * expected.abs().max()
    assert calls == [{}, {"via_input": False}]


@pytest.mark.parametrize("arch, prefixes", [("resnet10t", []), ("resnet10t", ["layer4", "fc"]), ("vit", []),
                                            ("vit", ["blocks.1", "head"]), ("vit_tokens", ["blocks.1", "head"])])
def test_ghost_scores_equal_the_loop_chunked_or_not(monkeypatch, arch, prefixes):
    """Every Linear/Conv2d weight as ghost factors (a ViT's beside vmap for its position embedding),
    a parameter subset, and reference gradients in chunks (memory for 2 images' blocks) against the
    unchunked scores."""
    torch.manual_seed(0)
    model = timm.create_model(ARCHS[arch][0], num_classes=3, **ARCHS[arch][1]).eval()
    real = gradients.plan
    if arch == "vit" and not prefixes:  # the position embedding from vmap, beside the layers
        monkeypatch.setattr(gradients, "_kind", lambda m, kind=gradients._kind: None if m is model else kind(m))
        monkeypatch.setattr(gradients, "DENSE_CONV_SHARE", -1.0)
    monkeypatch.setattr(similarity, "plan", lambda *args, **kwargs: every_ghost(real(*args, **kwargs), model))
    x, xr = torch.randn(3, 3, 32, 32), torch.randn(5, 3, 32, 32)
    y, yr = torch.tensor([0, 1, 2]), torch.arange(5) % 3
    names = select_parameters(model, prefixes)
    expected = alibi_kernel("grad_cos", loop_gradients(model, x, y, names), loop_gradients(model, xr, yr, names))
    whole = gradient_similarity_scores(model, x, y, batches(xr, yr), len(xr), kernel="grad_cos", prefixes=prefixes)
    assert whole.meta["ghost_layers"] and whole.meta["passes"] == 1
    assert ("vmap" in whole.meta["path"]) == (arch == "vit" and not prefixes)
    assert (whole.scores - expected).abs().max() <= 1e-5 * expected.abs().max()
    tight = 4 * whole.meta["values_per_image"] * 2 * 2 / 2**20
    small = gradient_similarity_scores(model, x, y, batches(xr, yr, 3), len(xr), kernel="grad_cos", prefixes=prefixes,
                                       memory_mb=tight)
    assert small.meta["passes"] == 2 and small.meta["chunk"] == 2
    assert (small.scores - whole.scores).abs().max() <= 1e-5 * whole.scores.abs().max()


def test_chunked_multi_pass_scores_equal_the_single_pass(setup):
    model, x, y, xr, yr = setup
    whole = gradient_similarity_scores(model, x, y, batches(xr, yr), len(xr), kernel="grad_cos")
    assert whole.meta["values_per_image"] < sum(p.numel() for p in model.parameters())  # ghost layers' factors
    tight = 4 * whole.meta["values_per_image"] * 2 * 2 / 2**20  # room for 2 gradients per half: groups of 2, chunks of 2
    small = gradient_similarity_scores(model, x, y, batches(xr, yr, 3), len(xr), kernel="grad_cos", memory_mb=tight)
    assert small.meta["passes"] == 3 and small.meta["chunk"] == 2
    assert (small.scores - whole.scores).abs().max() <= 1e-5 * whole.scores.abs().max()
    with pytest.raises(ValueError, match="the reference batches gave 8 images, expected 9"):
        gradient_similarity_scores(model, x, y, batches(xr[:8], yr[:8]), len(xr), kernel="grad_cos")


def test_parameter_subset_uses_only_those_gradients(setup):
    model, x, y, xr, yr = setup
    names = select_parameters(model, ["classifier", "conv_head"])
    assert names and all(n.startswith(("classifier.", "conv_head.")) for n in names)
    got = gradient_similarity_scores(model, x, y, batches(xr, yr), len(xr), kernel="grad_dot",
                                     prefixes=["classifier", "conv_head"])
    expected = alibi_kernel("grad_dot", loop_gradients(model, x, y, names), loop_gradients(model, xr, yr, names))
    assert (got.scores - expected).abs().max() <= 1e-5 * expected.abs().max()
    assert got.n_parameters == sum(p.numel() for n, p in model.named_parameters() if n in names)
    assert select_parameters(model, ["@classifier"]) == ["classifier.weight", "classifier.bias"]
    assert select_parameters(model, ["@last_stage"])[0].startswith(model.feature_info[-1]["module"] + ".")
    with pytest.raises(ValueError, match=r"no parameters under 'head'; module prefixes of this model: \[.*'classifier'"):
        select_parameters(model, ["head"])


def test_count_sketch_preserves_inner_products_on_average():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 5000, generator=gen, dtype=torch.float64)
    b = 0.7 * a + b  # correlated
    dots = [float((s(a[None]) @ s(b[None]).T)) for s in (CountSketch(5000, 64, seed) for seed in range(300))]
    exact = float(a @ b)
    assert abs(np.mean(dots) - exact) < 4 * np.std(dots) / np.sqrt(len(dots))
    s = CountSketch(5000, 64, seed=3)
    assert torch.equal(s(a[None]), CountSketch(5000, 64, seed=3)(a[None]))  # seeded


def test_projection_reports_its_error_against_exact_scores(setup):
    model, x, y, xr, yr = setup
    exact = gradient_similarity_scores(model, x, y, batches(xr, yr), len(xr), kernel="grad_cos")
    proj = gradient_similarity_scores(model, x, y, batches(xr, yr), len(xr), kernel="grad_cos", projection_dim=2048)
    info = proj.meta["projection"]
    assert info["check_images"] == 4 and info["dim"] == 2048
    err = (proj.scores[:4] - exact.scores[:4]).abs()
    assert info["max_abs_error"] == pytest.approx(float(err.max()), rel=1e-4, abs=1e-9)
    assert 0 < info["max_abs_error"] < 0.2 and info["spearman"] > 0.8


def test_reference_subset_is_seeded_stratified_and_checked():
    rows = pd.DataFrame({"image_id": [f"i{k:03d}" for k in range(100)], "label": np.arange(100) % 4})
    a = reference_subset(rows, 20, seed=0)
    assert a.equals(reference_subset(rows, 20, seed=0)) and not a.equals(reference_subset(rows, 20, seed=1))
    assert a["label"].value_counts().tolist() == [5, 5, 5, 5] and list(a["image_id"]) == sorted(a["image_id"])
    with pytest.raises(ValueError, match=r"reference_images: 101 is larger than the train split \(100 images\)"):
        reference_subset(rows, 101, seed=0)
    with pytest.raises(ValueError, match="reference_images: 3 is below the 4 classes"):
        reference_subset(rows, 3, seed=0)


@pytest.fixture
def tiny(repo):
    config = yaml.safe_load((repo / "configs" / "tiny.yaml").read_text())
    config["methods"].append({"name": "gs", "method": "gradient_similarity", "params": {}})
    return config


@pytest.mark.parametrize(
    "params, message",
    [
        ({"kernel": "grad_sin"}, r"methods\[\d\].params.kernel: Input should be 'grad_dot', 'grad_cos' or 'grad_asym_dot'"),
        ({"top_k": 30, "reference_images": 20}, r"methods\[\d\].params: top_k: 30 is larger than reference_images=20"),
        ({"reference_images": 1500}, r"methods\[\d\].params: reference_images: 1500 is larger than the train split \(1437"),
        ({"parameters": ["fc", "layer9"]}, r"methods\[\d\].params: parameters: resnet \(resnet10t\) has no parameters under 'layer9'"),
    ],
)
def test_bad_parameters_fail_at_dag_build_in_one_line(tiny, params, message):
    tiny["methods"][-1]["params"] = params
    with pytest.raises(ConfigError, match=message) as err:
        check(tiny)
    assert "\n" not in str(err.value)


def test_per_model_override_is_checked_merged(tiny):
    tiny["methods"][-1]["params"] = {"top_k": 10}
    tiny["models"][1]["methods"] = {"gs": {"reference_images": 5}}
    with pytest.raises(ConfigError, match=r"models\[1\].methods.gs: top_k: 10 is larger than reference_images=5"):
        check(tiny)
    tiny["methods"][-1]["params"] = {"parameters": ["head"]}  # vit has a head, resnet a fc
    tiny["models"][1]["methods"] = {}
    with pytest.raises(ConfigError, match=r"resnet \(resnet10t\) has no parameters under 'head'"):
        check(tiny)


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """The stage on digits at 16 px: a random resnet10t, 10 explained and 20 reference images."""
    from xaisim.index import digits_index, read_index, write_index
    from xaisim.io import write_csv
    from xaisim.predict import predict_model
    from xaisim.subset import explain_subset

    root = tmp_path_factory.mktemp("gs")
    write_index(digits_index(root, image_size=16, val_fraction=0.2, seed=0), root / "index.csv")
    index = read_index(root / "index.csv")
    write_csv(explain_subset(index, 10, 0)[["image_id", "label"]], root / "explain.csv", index=False)
    torch.manual_seed(0)
    spec = {"arch": "resnet10t"}
    models.save_trained(models.create(spec, 10), root / "w.safetensors", head="trained")
    predict_model(str(root / "index.csv"), spec, str(root / "w.safetensors"), image_size=16, batch_size=100,
                  device=get_device("cpu"), amp=False, out_csv=str(root / "pred.csv"))
    return root, spec


def _run(root, spec, weights, out, params):
    return explain_model(
        str(root / "index.csv"), str(root / "explain.csv"), str(root / "pred.csv"), spec, str(weights),
        model_name="m", method_name="gs", method="gradient_similarity", params=params, image_size=16,
        batch_size=8, evals=64, memory_mb=256, target="pred", seed=0, device=get_device("cpu"), out_path=str(out),
    )


def test_stage_writes_scores_rankings_and_metadata(stage, tmp_path):
    root, spec = stage
    out = tmp_path / "gs.safetensors"
    _run(root, spec, root / "w.safetensors", out, {"kernel": "grad_cos", "reference_images": 20, "top_k": 3})
    f = ArrayFile(out)
    maps, order = f.read("maps"), f.read("order")
    assert maps.shape == (10, 1, 20) and order.shape == (10, 20) and f.read("top").shape == (10, 3)
    assert (np.diff(np.take_along_axis(maps[:, 0], order, 1), axis=1) <= 0).all()
    assert (f.read("bottom")[:, 0] == order[:, -1]).all()
    assert np.abs(maps).max() <= 1 + 1e-6  # cosine
    meta = f.meta
    assert len(meta["reference_ids"]) == 20 and meta["kernel"] == "grad_cos" and meta["reference_target"] == "label"
    assert meta["n_parameters"] == sum(p.numel() for p in models.create(spec, 10).parameters())
    index = pd.read_csv(root / "index.csv", dtype={"image_id": str}).set_index("image_id")
    assert (index.loc[meta["reference_ids"], "split"] == "train").all()
    assert (f.read("reference_labels") == index.loc[meta["reference_ids"], "label"].to_numpy()).all()
    # the report: identical-class fractions and both figures
    preds = {"m": pd.read_csv(root / "pred.csv", dtype={"image_id": str})}
    table = identical_class({"m": f}, preds)
    top1 = f.read("reference_labels")[order[:, 0]]
    pred = preds["m"].set_index("image_id").loc[meta["image_ids"], "pred"].to_numpy()
    assert table.loc[0, "identical_pred"] == pytest.approx((top1 == pred).mean())
    paths = pd.read_csv(root / "index.csv", dtype={"image_id": str}).set_index("image_id")["path"]
    paths = root / paths
    examples.top_similar({"m": f}, preds, paths.astype(str), 2, "t", tmp_path / "top.png")
    examples.class_scores({"m": f}, preds, "t", tmp_path / "cls.png")
    assert (tmp_path / "top.png").stat().st_size > 1000 and (tmp_path / "cls.png").stat().st_size > 1000


def test_sklearn_model_is_recorded_as_not_supported(stage, tmp_path):
    from xaisim import classical

    root, _ = stage
    x, y = np.random.default_rng(0).random((30, 3 * 16 * 16)), np.arange(30) % 10
    classical.save(classical.estimator("logreg").fit(x, y), str(tmp_path / "svc.safetensors"), {})
    out = tmp_path / "gs.safetensors"
    _run(root, {"sklearn": "logreg"}, tmp_path / "svc.safetensors", out, {"reference_images": 20})
    f = ArrayFile(out)
    assert f.read("maps").shape == (0, 1, 1) and "gradient_similarity needs gradients" in f.meta["unsupported"]
    table = identical_class({"svc": f}, {})
    assert table.loc[0, "unsupported"] and np.isnan(table.loc[0, "identical_pred"])


def confident(scale: float, n: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A tiny MLP whose head is multiplied by ``scale`` and ``n`` images whose logit margin lies in
    [0.1, 0.13] before the scaling (19-25 at ``scale`` 190: float32 gives the target probability 1.0,
    float64 still resolves 1 - p), targets their predictions."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).eval()
    x = torch.randn(400, 3, 4, 4)
    with torch.no_grad():
        top = model(x).topk(2).values
        x = x[((top[:, 0] - top[:, 1]) >= 0.1) & ((top[:, 0] - top[:, 1]) <= 0.13)][:n]
        model[3].weight *= scale
        model[3].bias *= scale
        return model, x, model(x).argmax(1)


def float64_loop(model, x, y):
    """The loop's gradients of a float64 copy of the model."""
    return loop_gradients(copy.deepcopy(model).double(), x.double(), y)


def cosine(a, b):
    return (a @ b.T) / (a.norm(dim=1)[:, None] * b.norm(dim=1)[None, :])


@pytest.mark.parametrize("way", ["layers", "vmap"])
def test_an_over_confident_model_scores_as_in_float64(monkeypatch, way):
    """alibi's float32 loop collapses grad_cos to ~0 (1 - p rounds to 0, the absolute eps dominates);
    the scores equal the float64 loop's cosines."""
    model, x, y = confident(190.0, 14)
    assert len(x) == 14 and (torch.softmax(model(x), 1).max(1).values == 1.0).all()
    if way == "vmap":
        monkeypatch.setattr(gradients, "plan", lambda m, names, *a, **k: gradients.Plan({}, set(), list(names), 0))
    collapsed = alibi_kernel("grad_cos", loop_gradients(model, x[:5], y[:5]), loop_gradients(model, x[5:], y[5:]))
    assert collapsed.abs().max() < 1e-3
    got = gradient_similarity_scores(model, x[:5], y[:5], batches(x[5:], y[5:]), 9, kernel="grad_cos")
    gx, gr = float64_loop(model, x[:5], y[:5]), float64_loop(model, x[5:], y[5:])
    expected = cosine(gx, gr)
    assert (got.scores - expected).abs().max() < 1e-6 and expected.abs().max() > 0.1
    assert torch.equal(got.scores.argsort(1), expected.argsort(1))  # the same rankings
    assert not got.explained_saturated.any() and not got.reference_saturated.any()
    for kernel in ("grad_dot", "grad_asym_dot"):  # the float64 scales: as the float64 loop's
        scaled = gradient_similarity_scores(model, x[:5], y[:5], batches(x[5:], y[5:]), 9, kernel=kernel).scores
        want = gx @ gr.T if kernel == "grad_dot" else (gx @ gr.T) / gr.square().sum(1)
        assert (scaled - want).abs().max() <= 1e-4 * want.abs().max()


def test_images_beyond_float64_are_saturated_left_out_and_counted(tmp_path, caplog):
    """Inputs x 1e5: logit margins above 708, no gradient in float64: zero rows and columns, the
    metadata counts, a warning, identical_class leaves them out."""
    from xaisim.examples import ReferencePool
    from xaisim.examples.gradient_similarity import gradient_similarity
    from xaisim.io import save_arrays

    model, x, y = confident(1.0, 14)
    x[[1, 3, 6]] *= 1e5  # explained 1 and 3, reference 1
    with torch.no_grad():
        y = model(x).argmax(1)
        assert (model(x[[1, 3, 6]]).double().topk(2).values.diff(dim=1) < -745).all()
    ids = [f"r{i}" for i in range(9)]
    pool = ReferencePool(pd.DataFrame({"image_id": ids, "label": y[5:].numpy()}), lambda ref: [(x[5:], y[5:])], seed=0)
    with caplog.at_level("WARNING"):
        out = gradient_similarity(model, x[:5], y[:5], pool, reference_images=9, top_k=2)
    assert out.meta["saturated"] == 2 and out.meta["saturated_references"] == 1
    assert "2 of 5 explained images are saturated" in caplog.text and "1 of 9 reference images" in caplog.text
    assert out.arrays["saturated"].tolist() == [False, True, False, True, False]
    assert (out.scores[[1, 3]] == 0).all() and (out.scores[:, 1] == 0).all() and (out.arrays["order"][:, -1] == 1).all()
    kept = [0, 2, 4], [0, 2, 3, 4, 5, 6, 7, 8]
    gx, gr = float64_loop(model, x[kept[0]], y[kept[0]]), float64_loop(model, x[5:][kept[1]], y[5:][kept[1]])
    assert (out.scores[kept[0]][:, kept[1]] - cosine(gx, gr)).abs().max() < 1e-4
    path = tmp_path / "gs.safetensors"
    save_arrays(path, {"maps": out.scores.numpy()[:, None], "reference_labels": y[5:].numpy(), **out.arrays},
                {"method": "gs", "params": {"kernel": "grad_cos"}, "image_ids": list("abcde"), "reference_ids": ids,
                 **out.meta})
    preds = pd.DataFrame({"image_id": list("abcde"), "pred": y[:5].numpy(), "label": y[:5].numpy()})
    table = identical_class({"m": ArrayFile(path)}, {"m": preds})
    top1 = out.arrays["reference_targets"][out.arrays["order"][kept[0], 0]]
    assert table.loc[0, ["images", "saturated"]].tolist() == [3, 2]
    assert table.loc[0, "identical_pred"] == pytest.approx((top1 == y[kept[0]].numpy()).mean())
    examples.class_scores({"m": ArrayFile(path)}, {"m": preds}, "t", tmp_path / "cls.png")  # saturated rows left out
    images = pd.Series({name: str(tmp_path / f"{name}.png") for name in ids + list("abcde")})
    for image in images:
        Image.new("RGB", (4, 4)).save(image)
    examples.top_similar({"m": ArrayFile(path)}, {"m": preds}, images, 5, "t", tmp_path / "top.png")  # "saturated" panels
    assert (tmp_path / "cls.png").stat().st_size > 1000 and (tmp_path / "top.png").stat().st_size > 1000
