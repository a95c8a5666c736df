"""The learned ranker: a drop-in for the offline scorer, loaded from the shipped model file."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.fields import load_fields
from core.models import Field, Paper
from core.score.ranker import MODEL_PATH, Ranker, load_model, select

ROOT = Path(__file__).resolve().parent.parent
FIELDS = load_fields(ROOT / "data" / "fields" / "default.toml")


def paper(arxiv_id: str, title: str, abstract: str, primary: str = "cs.LG") -> Paper:
    return Paper(arxiv_id=arxiv_id, title=title, abstract=abstract, authors=("A. Author", "B. Author"),
                 categories=(primary,), primary_category=primary, published=date(2026, 1, 19))


KV = paper("2601.00001", "KV cache quantization for efficient long-context LLM inference",
           "We compress the key-value cache of large language models with 2-bit quantization, cutting memory "
           "by 4x and speeding up decoding with a custom attention kernel, with no loss of accuracy.")
MEDICAL = paper("2601.00002", "A U-Net for segmenting liver tumors in abdominal CT scans",
                "We segment liver lesions in computed tomography of patients with a convolutional network "
                "and report Dice scores on a hospital dataset.", primary="cs.CV")
GROKKING = paper("2601.00003", "A theory of grokking: implicit bias of gradient descent in two-layer networks",
                 "We prove that gradient descent on two-layer ReLU networks exhibits grokking, and derive the "
                 "training dynamics and a generalization bound in the infinite-width limit.")


def test_the_model_ships_and_loads_quickly() -> None:
    assert MODEL_PATH.is_file()
    load_model.cache_clear()
    started = time.perf_counter()
    Ranker(FIELDS)
    assert time.perf_counter() - started < 2.0  # well under a second on an idle machine


def test_a_score_for_every_field_best_first_stage_offline() -> None:
    ranker = Ranker(FIELDS)
    score = ranker.score(KV, "en")
    assert set(score.field_scores) == {f.slug for f in FIELDS}
    assert score.stage == "offline"
    assert score.value == max(score.field_scores.values())
    assert score.field_scores[score.field_slug or ""] == score.value
    assert all(1.0 <= v <= 10.0 for v in score.field_scores.values())


def test_clear_matches_score_high_and_go_to_their_field() -> None:
    ranker = Ranker(FIELDS)
    kv, theory, medical = (ranker.score(p, "en") for p in (KV, GROKKING, MEDICAL))
    assert (kv.value or 0) >= 7 and kv.field_slug == "efficient-llm"
    assert (theory.value or 0) >= 7 and theory.field_slug == "dl-theory"
    assert (medical.value or 0) <= 4


def test_reasons_are_one_line_in_each_language() -> None:
    ranker = Ranker(FIELDS)
    zh, en = ranker.score(KV, "zh").reason, ranker.score(KV, "en").reason
    assert "\n" not in zh and "\n" not in en
    assert "符合" in zh and en.startswith("Fits ")
    assert "kv cache" in en.lower()
    both = ranker.rank(KV, "zh", ("zh", "en")).score  # every language worded from one reading
    assert both.reasons == {"zh": zh, "en": en} and both.reason == zh
    assert both.value == ranker.score(KV, "en").value and ranker.score(KV, "zh").reasons == {}


def test_a_reason_names_a_phrase_only_when_the_paper_holds_it() -> None:
    # dl-theory names "double" and "descent" only inside "double descent" and "gradient descent": a paper
    # on a double dissociation trained without either phrase is not said to match "double, descent".
    ranker = Ranker(FIELDS)
    apart = paper("2601.00006", "A double dissociation of in-context learning and its theory",
                  "We find a double dissociation between task schema and binding, and analyse the descent of "
                  "the loss under a theory of in-context learning in transformers.")
    held = replace(apart, arxiv_id="2601.00007",
                   abstract=apart.abstract.replace("the descent of the loss", "gradient descent dynamics"))
    scores = {p.arxiv_id: ranker.score(p, "en") for p in (apart, held)}
    assert all(s.field_slug == "dl-theory" for s in scores.values())
    named = scores["2601.00006"].reason.split(":", 1)[1]
    assert "double" not in named and "descent" not in named
    assert "gradient descent" in scores["2601.00007"].reason  # the phrase, not its words one by one


def test_deterministic_and_independent_of_the_other_papers() -> None:
    ranker = Ranker(FIELDS)
    alone = ranker.score(GROKKING, "en")
    together = ranker.score_many([KV, MEDICAL, GROKKING], "en")[2]
    assert alone == together == Ranker(FIELDS).score(GROKKING, "en")


def test_a_user_field_never_seen_in_training_is_scored() -> None:
    robots = Field(slug="my-robots", name_zh="机器人抓取", name_en="Robotic grasping",
                   description_zh="机器人抓取与灵巧操作", description_en="Robotic grasping and dexterous manipulation.",
                   keywords=("grasping", "dexterous hand"))
    grasp = paper("2601.00004", "Learning dexterous grasping with a multi-fingered robot hand",
                  "We train a policy for dexterous grasping of unseen objects on a real robot hand.", "cs.RO")
    ranker = Ranker([robots])
    assert ranker.score(grasp, "en").value > ranker.score(MEDICAL, "en").value  # type: ignore[operator]


def test_an_ignored_area_counts_against_a_field() -> None:
    plain = replace(FIELDS[0], ignore=())
    with_ignore = replace(FIELDS[0], ignore=("medical/health",))
    assert Ranker([with_ignore]).logits(MEDICAL)[0] < Ranker([plain]).logits(MEDICAL)[0]


def test_select_takes_the_top_share_by_rank_value() -> None:
    ranker = Ranker(FIELDS)
    ranked = ranker.rank_many([MEDICAL, KV, GROKKING], "en")
    assert select(ranked, 0.3, min_keep=1) == [max(ranked, key=lambda r: r.rank_value).score.arxiv_id]
    assert len(select(ranked, 0.1, min_keep=10)) == 3


def test_no_fields_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Ranker([])


def test_the_seven_known_fields_carry_their_own_words() -> None:
    model = load_model()
    assert {f.slug for f in FIELDS} <= set(model.known)
    assert all(words and any(embed) for _, words, embed in model.known.values())


def test_a_known_field_weighs_its_own_words_and_a_renamed_copy_falls_back_to_the_agnostic_model() -> None:
    # The same field under a slug the model never saw is ranked by the field-agnostic model only.
    ranker = Ranker(FIELDS)
    copies = [replace(f, slug=f"my-{f.slug}") for f in FIELDS]
    agnostic = Ranker(copies)
    assert ranker.known and not agnostic.known
    assert ranker.logits(GROKKING) != agnostic.logits(GROKKING)
    assert agnostic.score(GROKKING, "en").field_slug == "my-dl-theory"


def test_a_known_field_among_user_fields_keeps_its_words() -> None:
    robots = Field(slug="my-robots", name_zh="机器人抓取", name_en="Robotic grasping",
                   description_zh="机器人抓取", description_en="Robotic grasping.", keywords=("grasping",))
    mixed = Ranker([robots, *FIELDS])
    assert [i for i, _, _ in mixed.known] == list(range(1, len(FIELDS) + 1))
    assert mixed.score(KV, "en").field_slug == "efficient-llm"


def test_a_user_field_next_to_known_ones_is_put_on_their_scale() -> None:
    # The user's field is ranked by the agnostic share, scaled and shifted by what training fitted for a
    # field without words; alone (no known field to compete with) it keeps the plain agnostic share.
    robots = Field(slug="my-robots", name_zh="机器人抓取", name_en="Robotic grasping",
                   description_zh="机器人抓取", description_en="Robotic grasping.", keywords=("grasping",))
    model = load_model()
    low, high = (replace(model, unknown_scale=1.0, unknown_offset=v) for v in (-50.0, 50.0))
    assert Ranker([robots, *FIELDS], low).score(KV, "en").field_slug == "efficient-llm"
    assert Ranker([robots, *FIELDS], high).score(KV, "en").field_slug == "my-robots"
    assert Ranker([robots], low).logits(KV) == Ranker([robots], high).logits(KV)
    assert model.unknown_scale > 0


ROBOTS = Field(slug="my-robots", name_zh="机器人学习", name_en="Robot learning",
               description_zh="机器人操作、抓取与运动的学习方法", description_en="Learning for robot manipulation, "
               "grasping and locomotion: imitation learning, policies from demonstrations, sim-to-real.",
               keywords=("robot learning", "manipulation", "grasping", "locomotion"))
GRASP = paper("2601.00004", "Learning dexterous grasping with a multi-fingered robot hand from demonstrations",
              "We train a visuomotor policy for dexterous grasping and in-hand manipulation of unseen objects "
              "from human demonstrations, and transfer it sim-to-real to a multi-fingered robot hand.", "cs.RO")


def test_a_deployment_of_its_own_fields_is_ranked_by_the_solo_model() -> None:
    # None of its fields known: the solo model, which weighs nothing of the default fields' taste (their
    # words, categories), ranks each field by its own evidence; its values are on their own calibration.
    alone = Ranker([ROBOTS])
    assert alone.solo and not Ranker(FIELDS).solo and not Ranker([ROBOTS, *FIELDS]).solo
    grasp, kv, medical = (alone.score(p, "en") for p in (GRASP, KV, MEDICAL))
    assert (grasp.value or 0) >= 7 and grasp.field_slug == "my-robots"
    assert (kv.value or 0) <= 4 and (medical.value or 0) <= 4
    assert grasp.reason.startswith("Fits Robot learning")


def test_a_solo_field_is_ranked_the_same_beside_other_fields_of_its_own() -> None:
    # The solo model never compares a field with the others, so adding a field changes no other's value.
    other = replace(ROBOTS, slug="my-speech", name_en="Speech recognition", name_zh="语音识别",
                    description_en="Automatic speech recognition.", description_zh="语音识别",
                    keywords=("speech recognition", "asr"))
    for p in (GRASP, KV, MEDICAL):
        assert Ranker([ROBOTS, other]).logits(p)[0] == pytest.approx(Ranker([ROBOTS]).logits(p)[0], abs=1e-9)
    assert Ranker([other, ROBOTS]).score(GRASP, "en").field_slug == "my-robots"


def test_exclusions_count_against_a_solo_field() -> None:
    # "not X" (a negative term) and an ignored area both lower a paper holding X for a field of one's own.
    plain = Ranker([ROBOTS]).logits(GRASP)[0]
    assert Ranker([replace(ROBOTS, terms=("dexterous^-3",))]).logits(GRASP)[0] < plain
    surgical = paper("2601.00005", "Learning robotic manipulation for surgery in medical settings",
                     "We learn manipulation policies for a surgical robot from demonstrations, for medical "
                     "procedures on patients in hospitals.", "cs.RO")
    assert Ranker([replace(ROBOTS, ignore=("medical/health",))]).logits(surgical)[0] \
        < Ranker([ROBOTS]).logits(surgical)[0]


def test_training_fits_the_solo_model_on_every_field_pooled() -> None:
    pytest.importorskip("sklearn")
    import numpy as np

    from bench.train_ranker import Fitted, fit_solo, solo_logits
    from core.score.ranker import SOLO_FEATURES, SOLO_INDEX, fit_calibration

    # The picks of either field are the papers whose bm25 evidence for that field is high; the margins,
    # which the solo model must not read, are noise. A thin copy of the fields (as a user might write
    # them: weaker evidence, the same picks) is pooled with them.
    rng = np.random.default_rng(3)
    n = 400
    m = synthetic(2, [i % 8 for i in range(n)], [[1.0] for _ in range(n)], [1.0] * n)
    m.pair = rng.normal(size=m.pair.shape)
    m.thin = [m.pair * 0.5]
    bm25 = list(SOLO_FEATURES).index("bm25_abstract")
    y = (m.pair[:, :, SOLO_INDEX[bm25]] > 1.2).astype(int)
    bias, w, calibration = fit_solo(m, y, np.arange(n))
    assert int(np.argmax(w)) == bm25 and w[bm25] > 1.0
    fitted = Fitted(np.zeros(0), 0.0, np.zeros(0), solo=(bias, w, calibration))
    logits = [solo_logits(pair, fitted, np.arange(n)) for pair in (m.pair, *m.thin)]
    assert logits[0].shape == (n, 2)
    # its calibration puts the pairs' pick rate (of the fields and their thin copies) at 7
    pooled = sorted(float(v) for v in np.concatenate([lg.ravel() for lg in logits]))
    assert calibration == fit_calibration(pooled, float(y.mean()))


def test_training_places_a_field_without_words_so_it_wins_its_own_picks() -> None:
    pytest.importorskip("sklearn")
    import numpy as np
    import scipy.sparse as sp

    from bench.train_ranker import fit_softmax, fit_unknown

    # Three fields, each told apart by one word, f0 the rarest; the agnostic share only whispers (0.5 on
    # the own field). Left out, f0 has no words: unscaled it loses its picks to the others' biases; placed
    # by fit_unknown it wins them, and the others keep theirs.
    n = 200
    target = np.array([0 if i % 10 == 0 else 1 if i % 10 < 6 else 2 for i in range(n)])
    words = sp.csr_matrix(np.eye(3)[target] * 3.0)
    share = np.eye(3)[target] * 0.5
    held = np.array([(i // 10) % 3 == 2 for i in range(n)])
    start = fit_softmax(share[~held], words[~held], target[~held], 10.0)
    scale, offset = fit_unknown(share, words, target, held, 10.0, start)
    rest = target != 0
    w0 = start[4:].reshape(3, 3)
    theta = fit_softmax(share[rest][:, 1:], words[rest], target[rest] - 1, 10.0,
                        np.concatenate([[start[0]], start[2:4], w0[1:].ravel()]))
    w = theta[3:].reshape(2, 3)
    z = (theta[0] * share[:, 1:] + theta[1:3] + np.asarray(words @ w.T)).max(axis=1)
    mine = share[:, 0]
    assert (mine[~rest] < z[~rest]).all()  # unscaled, it loses its own picks
    placed = scale * mine + offset
    assert (placed[~rest] > z[~rest]).all() and (placed[rest] < z[rest]).all()


def synthetic(fields: int, day: list[int], words: list[list[float]], weight: list[float]):  # type: ignore[no-untyped-def]
    """Matrices of a tiny made-up corpus: no pair evidence, the given word columns, one paper a row."""
    pytest.importorskip("sklearn")
    import numpy as np
    import scipy.sparse as sp

    from bench.train_ranker import Matrices
    from core.score.ranker import PAPER_FEATURES
    from core.score.ranker_embed import EMBED_DIM
    from core.score.ranker_text import PAIR_FEATURES

    n, width = len(day), len(words[0])
    return Matrices(np.zeros((n, fields, len(PAIR_FEATURES))), np.zeros((n, len(PAPER_FEATURES))),
                    sp.csr_matrix(np.array(words)), np.zeros((n, EMBED_DIM)), [f"w{j}" for j in range(width)],
                    [f"f{k}" for k in range(fields)], np.arange(width), np.array(day), np.array(weight))


def test_training_chooses_the_known_fields_c_on_held_out_training_days() -> None:
    import numpy as np

    from bench.train_ranker import Fitted, fit_fields

    # 70% of the picks go to f0, and only a paper's words tell which field: a tiny C leans on the bias
    # and gets 0.7 of the held-out days right; a large one learns the words and gets all of them.
    field = [0 if i % 10 < 7 else 1 for i in range(90)]
    m = synthetic(2, [i % 9 for i in range(90)], [[1.0, 0.0] if f == 0 else [0.0, 1.0] for f in field], [1.0] * 90)
    y = np.array([[1, 0] if f == 0 else [0, 1] for f in field])
    fitted = fit_fields(m, y, np.arange(90), Fitted(np.zeros(0), 0.0, np.zeros(0)), c_known=(0.001, 10.0))
    assert fitted.c_known == 10.0
    (_, f0), (_, f1) = fitted.known["f0"], fitted.known["f1"]
    assert f0[0] > f1[0] and f1[1] > f0[1]


def test_training_weighs_the_strong_picks_more_in_the_pick_model() -> None:
    import numpy as np

    from bench.train_ranker import fit_arrays, pick_logits

    # Half the papers holding w0 are picked; weighing those picks double raises w0's pick logit.
    day = [i % 4 for i in range(40)]
    words = [[1.0, 0.0] if i < 20 else [0.0, 1.0] for i in range(40)]
    y = np.array([[1, 0] if i < 10 else [0, 1] if i >= 35 else [0, 0] for i in range(40)])
    rows = np.arange(40)
    plain = synthetic(2, day, words, [1.0] * 40)
    strong = synthetic(2, day, words, [2.0 if i < 10 or i >= 35 else 1.0 for i in range(40)])
    before = pick_logits(plain, fit_arrays(plain, y, rows, c_known=()), rows)[0]
    after = pick_logits(strong, fit_arrays(strong, y, rows, c_known=()), rows)[0]
    assert after > before


def test_the_shipped_model_records_the_c_chosen_for_its_known_fields() -> None:
    pytest.importorskip("sklearn")
    import json

    from bench.train_ranker import C_KNOWN_GRID

    assert json.loads(MODEL_PATH.read_text(encoding="utf-8"))["c_known"] in C_KNOWN_GRID
