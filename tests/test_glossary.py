"""Chinese research terms read in English for the offline matcher (core/score/glossary.py)."""

from __future__ import annotations

import pytest

from core.score.glossary import GLOSSARY, english_phrase, unread_terms
from core.score.profile import parse_interests
from core.score.routing import english_phrases, unnamed


@pytest.mark.parametrize(("phrase", "english"), [
    ("强化学习", "reinforcement learning"),
    ("多模态大模型", "multimodal large language model"),  # the longest term first, not 多模态 + 大模型
    ("原生多模态大模型", "native multimodal large language model"),
    ("大模型安全与对齐", "large language model safety alignment"),  # 与 is dropped
    ("LLM 推理加速", "LLM inference acceleration"),  # English kept, Chinese runs rewritten in place
    ("KV缓存压缩", "KV cache compression"),
    ("扩散模型 for 视频生成", "diffusion model for video generation"),
    ("mixture of experts", "mixture of experts"),
    ("代理模型", "surrogate model"),  # a longer term decides what a short one means
    ("「强化学习」：综述", "reinforcement learning survey"),  # Chinese punctuation goes
    ("灾难性遗忘", "catastrophic forgetting"),  # terms the labelled days' Chinese reasons use often
    ("梯度下降的隐式偏差", "gradient descent implicit bias"),
    ("细粒度视觉定位", "fine-grained visual grounding"),
    ("潜空间推理", "latent space reasoning"),
    ("的了吗", ""),  # nothing known
    ("？？", ""),
])
def test_a_phrase_is_read_in_english(phrase: str, english: str) -> None:
    assert english_phrase(phrase) == english


def test_the_glossary_is_chinese_to_english() -> None:
    assert all(key and all("\u3400" <= ch <= "\u9fff" for ch in key) for key in GLOSSARY)
    assert all(value.isascii() and value.strip() == value and value for value in GLOSSARY.values())


def test_a_profile_as_the_ranker_sees_it_is_english_once_each_and_english_profiles_are_unchanged() -> None:
    english = parse_interests("diffusion LLMs, KV cache compression, not medical imaging").judge_field()
    assert unnamed(english).keywords == english.keywords and unnamed(english).ignore == english.ignore
    assert unnamed(english).description_en == english.description_en
    field = unnamed(parse_interests("强化学习, reinforcement learning, 的了吗, 不要医学影像").judge_field())
    assert field.keywords == ("reinforcement learning",) and field.ignore == ("medical imaging",)
    assert field.description_en == "reinforcement learning" and field.name_en == field.name_zh == ""
    assert english_phrases(["强化学习", "Reinforcement Learning"]) == ("reinforcement learning",
                                                                     "Reinforcement Learning")


def test_the_chinese_words_it_cannot_read_are_named_without_particles_or_generic_words() -> None:
    assert unread_terms(["蛋白质折叠的拓扑", "强化学习相关研究", "量子色动力学"]) == ("折叠", "拓扑", "色动力学")
    assert unread_terms(["强化学习与机器人", "的了吗", "robot learning"]) == ()
    assert unread_terms(["拓扑", "拓扑学习"]) == ("拓扑",), "once each"
