"""The learned ranker's shipped model: read once per process from the package data (data/ranker/ in a
checkout, `arxiv_digest_data.ranker` when installed), with the SHA-256 of its file for cache keys.

Every user of the ranker in the product (the offline scorer, the cheap stage, interest routing) loads it
from here, so an installed wheel works the same as a checkout.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources

from core.errors import ConfigError
from core.score.ranker import Model

RANKER_PACKAGE = "arxiv_digest_data.ranker"  # data/ranker/, installed as package data
RANKER_FILE = "model.json"


@lru_cache(maxsize=1)
def shipped_model() -> tuple[Model, str]:
    """The shipped ranker model and the SHA-256 of its file, read once per process from the package data."""
    try:
        raw = resources.files(RANKER_PACKAGE).joinpath(RANKER_FILE).read_bytes()
    except (ModuleNotFoundError, OSError) as exc:
        raise ConfigError(f"the ranker model is not installed (package {RANKER_PACKAGE}: {exc}): reinstall "
                          "arxiv-digest, e.g. `pip install -e .` in a checkout") from None
    try:
        model = Model.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"the ranker model {RANKER_PACKAGE}/{RANKER_FILE} is unreadable: {exc}") from None
    return model, hashlib.sha256(raw).hexdigest()
