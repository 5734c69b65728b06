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
