"""Dense meaning for the learned ranker: WordLlama's token embeddings, shipped inside its PyPI wheel.

Owns loading the embedding table once per process (from the installed `wordllama` package, never a
download), turning a paper and a field into unit vectors, and remembering the vectors of papers already
seen (a day's papers are ranked for every field, every language and every reader's interests). The
ranker relates a paper's vector to a field's (a field-agnostic feature, so a user's own field gains
too) and weighs it per known field. Deterministic: each text is embedded alone, so a vector never
depends on which other papers were embedded with it. No clock, no network.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.models import Field, Paper
from core.score.embed import field_text, paper_text  # the texts the embedding stage sends, the same here

EMBED_CONFIG = "l2_supercat"  # WordLlama's shipped model: a 256-wide table of LLM token embeddings
EMBED_DIM = 256
# Text embedded per paper: arXiv caps abstracts at 1,920 characters; a malformed feed's megabyte abstract
# would otherwise become a token matrix of hundreds of MB (WordLlama does not truncate).
EMBED_CHARS = 4_000
CACHE_SIZE = 50_000  # paper vectors kept per process: a few days of listings (1 KB each)


@lru_cache(maxsize=1)
def embedding_version() -> str:
    """Which embeddings the ranker reads: the installed wordllama release and the table used. Part of the
    offline scorer's cache key, so a wordllama release with other weights never reuses older scores."""
    try:
        release = metadata.version("wordllama")
    except metadata.PackageNotFoundError:
        release = "absent"  # loading says what to do; the key only has to differ
    return f"wordllama-{release}:{EMBED_CONFIG}:{EMBED_DIM}"


@lru_cache(maxsize=1)
def _wordllama() -> Any:
    """WordLlama's model from its own package folder; it is never downloaded (no network at run time)."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:
        raise ConfigError(f"the ranker needs the wordllama package ({exc}): reinstall arxiv-digest, "
                          "e.g. `pip install -e .` in a checkout") from None
    # The wheel keeps the tokenizer under tokenizers/, where the loader looks for its cache: point it there.
    folder = Path(wordllama.__file__).resolve().parent
    logging.getLogger("wordllama").setLevel(logging.WARNING)
    try:
        return WordLlama.load(config=EMBED_CONFIG, dim=EMBED_DIM, cache_dir=folder, disable_download=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load WordLlama's shipped embeddings from {folder}: {exc}") from None


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


class Embedder:
    """Unit vectors of texts, each embedded alone; papers' vectors are remembered by their text."""

    def __init__(self) -> None:
        self.model = _wordllama()
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.lock = threading.Lock()  # rankers run in worker threads too

    def text(self, text: str) -> np.ndarray:
        text = text[:EMBED_CHARS]
        with self.lock:
            vector = self.cache.get(text)
            if vector is not None:
                self.cache.move_to_end(text)  # least recently used goes first
                return vector
        raw = np.asarray(self.model.embed([text]), dtype=np.float64)[0] if text.strip() else np.zeros(EMBED_DIM)
        vector = _unit(raw)
        vector.setflags(write=False)
        with self.lock:
            self.cache[text] = vector
            if len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)
        return vector

    def paper(self, paper: Paper) -> np.ndarray:
        return self.text(paper_text(paper))

    def papers(self, papers: Sequence[Paper]) -> np.ndarray:
        """(papers, EMBED_DIM) unit vectors."""
        return np.array([self.paper(p) for p in papers]).reshape(len(papers), EMBED_DIM)

    def fields(self, fields: Sequence[Field]) -> np.ndarray:
        """(fields, EMBED_DIM) unit vectors."""
        return np.array([self.text(field_text(f)) for f in fields]).reshape(len(fields), EMBED_DIM)


@lru_cache(maxsize=1)
def shared_embedder() -> Embedder:
    """One embedder per process, so a paper is embedded once whichever ranker meets it."""
    return Embedder()
