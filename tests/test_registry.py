import pytest

from xaisim.explain import METHODS
from xaisim.registry import Registry


def test_register_get_and_refuse_duplicates():
    reg = Registry("thing")

    @reg.register("double")
    def double(x, *, factor: int = 2):
        return x * factor

    assert reg.get("double")(3) == 6 and reg.names() == ["double"]
    with pytest.raises(ValueError, match="thing 'double' is registered twice"):
        reg.register("double")(double)
    with pytest.raises(KeyError, match="unknown thing 'triple'; known: double"):
        reg.get("triple")
    reg.check_params("double", {"factor": 3}, "cfg")
    with pytest.raises(ValueError, match=r"cfg: unknown parameter\(s\) \['x'\]"):
        reg.check_params("double", {"x": 1}, "cfg")  # positional inputs are not parameters


def test_the_foundation_methods_are_registered():
    assert {"gradcam", "integrated_gradients"} <= set(METHODS.names())


def test_check_params_validates_values_and_fills_defaults():
    from typing import Annotated

    from pydantic import Field

    reg = Registry("thing")

    @reg.register("steps")
    def steps(x, *, n: Annotated[int, Field(ge=1)] = 5, clip: tuple[float, float] = (1.0, 99.0)):
        return x

    assert reg.check_params("steps", {}, "cfg") == {"n": 5, "clip": [1.0, 99.0]}
    assert reg.check_params("steps", {"n": 5}, "cfg") == reg.check_params("steps", {}, "cfg")
    with pytest.raises(ValueError, match=r"^cfg.n: Input should be greater than or equal to 1 \(got 0\)") as err:
        reg.check_params("steps", {"n": 0}, "cfg")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"^cfg.clip: Tuple should have at most 2 items"):
        reg.check_params("steps", {"clip": [1, 2, 3]}, "cfg")


def test_default_families_from_timm_names():
    from xaisim.families import default_family, family

    assert [default_family(a) for a in ("resnet18d.ra2_in1k", "deit_tiny_patch16_224", "swin_tiny_patch4_window7_224",
                                        "pvt_v2_b2", "convnextv2_nano", "vit_base_r50_s16_224", "maxvit_tiny_tf_224")] == [
        "cnn", "transformer", "transformer", "transformer", "cnn", "hybrid", "hybrid"]
    assert family({"arch": "resnet18", "family": "hybrid"}) == "hybrid"
    assert family({"name": "SVC", "sklearn": "svc"}) == "classical"


def test_declared_info_and_validate_stay_with_the_entry():
    reg = Registry("thing")

    def check(params):
        if params["lo"] > params["hi"]:
            raise ValueError("lo: above hi; lower it")

    @reg.register("span", validate=check, needs={"gradients"})
    def span(x, *, lo: int = 0, hi: int = 1):
        return x

    assert reg.info("span") == {"needs": {"gradients"}} and not hasattr(span, "validate")
    with pytest.raises(ValueError, match="^cfg: lo: above hi; lower it for thing 'span'$"):
        reg.check_params("span", {"lo": 2}, "cfg")
