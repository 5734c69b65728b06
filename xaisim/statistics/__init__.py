"""Statistics over the model x model matrices: is a pattern real, and what does "similar" mean?

One module per concern: prediction agreement and error consistency (:mod:`.agreement`), linear CKA
of pre-logit features (:mod:`.cka`), Mantel tests between matrices (:mod:`.mantel`), the influence of
the number of images (:mod:`.image_count`), family separation (:mod:`.separation`), the replicate
noise floor (:mod:`.noise_floor`), model-parameter randomisation (:mod:`.sanity`), cluster
stability (:mod:`.stability`), the distance of a resample (:mod:`.matrix`) and the stage's figures
(:mod:`.figures`). A statistic that is undefined for the data at hand (too few models,
no within-family pair, ...) is NaN with a logged warning that says why, never an exception.
"""

from __future__ import annotations

import logging

log = logging.getLogger("xaisim.statistics")


def undefined(what: str, reason: str) -> float:
    """NaN for a statistic that cannot be computed, with a warning naming it and the reason."""
    log.warning("%s is undefined: %s", what, reason)
    return float("nan")

