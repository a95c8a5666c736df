"""The ranker's embeddings: WordLlama's shipped table, loaded offline, a paper's vector its own alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from core.models import Field, Paper
from core.score.ranker import Ranker
from core.score.ranker_embed import EMBED_CHARS, EMBED_DIM, Embedder, shared_embedder
from core.score.ranker_text import PAIR_FEATURES


def paper(arxiv_id: str, title: str, abstract: str) -> Paper:
    return Paper(arxiv_id=arxiv_id, title=title, abstract=abstract, authors=("A. Author",),
                 categories=("cs.RO",), primary_category="cs.RO", published=date(2026, 1, 19))


GRASPING = Field(slug="my-grasping", name_zh="机器人抓取", name_en="Robotic grasping",
                 description_zh="机器人抓取", description_en="Robots picking up and holding objects.")
# Shares no word with the field above (no "robot", "grasp", "pick", "hold", "object"), but its meaning.
HAND = paper("2601.00010", "Dexterous in-hand manipulation with a five-fingered gripper",
             "A multi-fingered hand learns to reorient mugs, tools and cups on a table from tactile feedback.")
QUANT = paper("2601.00011", "Two-bit weight quantization for transformer language models",
              "We compress the weights of large language models to two bits with little loss in perplexity.")


def test_the_embeddings_load_from_the_installed_package_without_the_network() -> None:
    # tests run with sockets disabled (pytest-socket): a download attempt would fail here
    vector = shared_embedder().paper(HAND)
    assert vector.shape == (EMBED_DIM,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-9


def test_meaning_ties_a_paper_to_a_field_it_shares_no_word_with() -> None:
    embedder = shared_embedder()
    field = embedder.fields([GRASPING])[0]
    assert float(embedder.paper(HAND) @ field) > float(embedder.paper(QUANT) @ field) + 0.1
    ranker = Ranker([GRASPING])
    cosine = PAIR_FEATURES.index("embed_cosine")
    assert ranker._logits(HAND)[1][0][cosine] > ranker._logits(QUANT)[1][0][cosine]


def test_a_papers_vector_is_the_same_alone_or_among_others_and_is_remembered() -> None:
    fresh = Embedder()
    alone = fresh.paper(QUANT)
    together = fresh.papers([HAND, QUANT, replace(HAND, arxiv_id="x")])
    assert np.array_equal(together[1], alone)
    assert np.array_equal(together[0], together[2])  # the same text: one vector, remembered
    assert len(fresh.cache) == 2
    assert not alone.flags.writeable  # a remembered vector cannot be changed by a caller


def test_an_empty_text_embeds_to_zero_without_failing() -> None:
    empty = replace(QUANT, title="", abstract="")
    vector = Embedder().paper(empty)
    assert vector.shape == (EMBED_DIM,)
    assert Ranker([GRASPING]).score(empty, "en").value >= 1.0


def test_a_huge_abstract_is_embedded_from_its_start_only() -> None:
    # arXiv caps abstracts near 2,000 characters; a malformed feed must not make a token matrix of megabytes
    fresh = Embedder()
    huge = replace(QUANT, abstract=QUANT.abstract + " padding words" * 100_000)
    vector = fresh.paper(huge)
    assert vector.shape == (EMBED_DIM,)
    assert all(len(key) <= EMBED_CHARS for key in fresh.cache)


def test_the_vectors_kept_are_the_most_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.score.ranker_embed as ranker_embed

    monkeypatch.setattr(ranker_embed, "CACHE_SIZE", 2)
    embedder = ranker_embed.Embedder()
    embedder.text("sparse autoencoders")
    embedder.text("kv cache quantization")
    embedder.text("sparse autoencoders")  # used again: it stays
    embedder.text("diffusion language models")
    assert list(embedder.cache) == ["sparse autoencoders", "diffusion language models"]
