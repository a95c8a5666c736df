"""Commands tested with no platform present: text in, Reply out, the store checked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands import COMMANDS, Caller, Commands
from bot.parsing import parse_command, parse_min_score, parse_time, parse_timezone
from core.config import PROJECT_ROOT, Settings
from core.daily import run_day
from core.fields import load_fields
from core.models import ChatRef, Note, PaperItem
from core.services import Services
from core.store import Store

NOW = datetime(2025, 12, 22, 3, 0, tzinfo=UTC)
CHAT = ChatRef("telegram", "42")
SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"


@pytest.fixture
async def commands(tmp_path: Path) -> AsyncIterator[Commands]:
    settings = Settings.from_env({"DATABASE_PATH": str(tmp_path / "db.sqlite"), "DIGEST_LANGUAGE": "en"})
    async with Store.open(settings.database_path) as store:
        yield Commands(Services(settings, store, tuple(load_fields(settings.fields_path))))


def text_of(reply: object) -> str:
    return "\n".join(b.text for b in reply.blocks if isinstance(b, Note))  # type: ignore[attr-defined]


def caller(**kw: object) -> Caller:
    return Caller(chat=CHAT, now=NOW, **kw)  # type: ignore[arg-type]


def test_command_lines_are_split_and_bot_names_dropped() -> None:
    assert parse_command("/field@ArxivBot efficient-llm  x") == ("field", "efficient-llm  x")
    assert parse_command("/MIN_SCORE 7") == ("min_score", "7")
    assert parse_command("hello") == ("", "hello")


@pytest.mark.parametrize(("arg", "value"), [("7", 7.0), ("7.5", 7.5), ("10", 10.0), ("1", 1.0), ("6,5", 6.5),
                                            ("7.3", None), ("11", None), ("0", None), ("abc", None), ("", None)])
def test_min_score_takes_one_to_ten_in_halves(arg: str, value: float | None) -> None:
    assert parse_min_score(arg) == value


def test_time_and_timezone_are_validated() -> None:
    assert parse_time("8:05") == "08:05" and parse_time("25:00") is None and parse_time("noon") is None
    assert parse_timezone("Europe/Berlin") == "Europe/Berlin"
    assert parse_timezone("europe/berlin") == "Europe/Berlin"
    assert parse_timezone("Mars/Base") is None and parse_timezone("CET5") is None


async def test_subscribe_unsubscribe_keep_settings(commands: Commands) -> None:
    assert "Subscribed" in text_of(await commands.handle("/subscribe", caller()))
    assert "already" in text_of(await commands.handle("/subscribe", caller()))
    await commands.handle("/min_score 8.5", caller())
    assert "Unsubscribed" in text_of(await commands.handle("/unsubscribe", caller()))
    sub = await commands.services.store.get_subscription(CHAT)
    assert sub is not None and not sub.active and sub.min_score == 8.5


async def test_a_bad_threshold_is_refused_and_the_old_value_stays(commands: Commands) -> None:
    await commands.handle("/min_score 8", caller())
    reply = await commands.handle("/min_score 12", caller())
    assert reply.kind == "error" and "1 to 10" in text_of(reply) and "stays 8.0" in text_of(reply)
    sub = await commands.services.store.get_subscription(CHAT)
    assert sub is not None and sub.min_score == 8.0


async def test_field_sets_validates_and_toggles(commands: Commands) -> None:
    reply = await commands.handle("/field efficent-llm", caller())
    assert reply.kind == "error" and "efficient-llm" in text_of(reply)
    reply = await commands.handle("/field efficient-llm safety-alignment", caller())
    assert "Efficient LLM training and inference" in text_of(reply)
    menu = await commands.handle("/field", caller())
    assert len(menu.buttons) == 7
    assert [b.label.startswith("✅") for (b,) in menu.buttons].count(True) == 2
    result = await commands.handle_action("field", "safety-alignment", caller())
    assert result.reply is not None
    sub = await commands.services.store.get_subscription(CHAT)
    assert sub is not None and sub.fields == ("efficient-llm",)


async def test_group_settings_need_an_admin_but_queries_do_not(commands: Commands) -> None:
    async def no() -> bool:
        return False

    member = caller(is_group=True, is_admin=no)
    assert "only group admins" in text_of(await commands.handle("/min_score 9", member))
    assert "only group admins" in text_of(await commands.handle("/subscribe", member))
    assert await commands.services.store.get_subscription(CHAT) is None
    assert "Threshold" in text_of(await commands.handle("/min_score", member))
    assert (await commands.handle("/fields", member)).kind == "info"


async def test_interests_without_an_english_word_get_a_hint_when_no_llm_reads_them(commands: Commands) -> None:
    hint, read = "no English word or known Chinese term", "matched against the papers' English words as"
    assert hint in text_of(await commands.handle("/interests 的了吗, 随便看看", caller()))
    chinese = text_of(await commands.handle("/interests 强化学习, 机器人", caller()))
    assert hint not in chinese and f"{read}: reinforcement learning; robot" in chinese, "the glossary reads them"
    mixed = text_of(await commands.handle("/interests 扩散模型, robot learning", caller()))
    assert f"{read}: diffusion model; robot learning" in mixed
    english = text_of(await commands.handle("/interests diffusion models, robot learning", caller()))
    assert hint not in english and read not in english, "English needs no word about it"
    watch = text_of(await commands.handle('/interests watch: "强化学习"', caller()))
    assert hint not in watch and read not in watch


async def test_chinese_interest_words_the_glossary_lacks_are_named(commands: Commands) -> None:
    said = "these Chinese words are not known here"
    partly = text_of(await commands.handle("/interests 蛋白质折叠的拓扑, 强化学习相关研究, 不要量子色动力学", caller()))
    assert "as: protein; reinforcement learning" in partly, "what is read is said, as before"
    assert f"{said}: 折叠, 拓扑, 色动力学." in partly, "particles and generic words (的, 相关研究) are not named"
    assert said not in text_of(await commands.handle("/interests 强化学习与机器人的研究", caller()))
    assert said not in text_of(await commands.handle("/interests 的了吗", caller())), "the hint says it all"
    assert f"{said}: 拓扑." in text_of(await commands.handle("/interests 不要拓扑", caller())), "avoided ones too"
    watching = text_of(await commands.handle("/interests not 拓扑, watch: cs.LG", caller()))
    assert "Topics you avoid" in watching and "Watch list saved" in watching and f"{said}: 拓扑." in watching
    zh = Caller(chat=ChatRef("telegram", "77"), now=NOW, language_hint="zh")
    assert "这些中文词还不认识：折叠、拓扑" in text_of(await commands.handle("/interests 蛋白质折叠的拓扑", zh))


async def test_a_chinese_watch_keyword_is_told_it_cannot_match(commands: Commands) -> None:
    said = "so these Chinese ones will never match: 强化学习, 机器人. Write them in English."
    assert said in text_of(await commands.handle("/interests watch: 强化学习, 机器人, latent space", caller()))
    assert said.split(":")[0] in text_of(await commands.handle('/interests diffusion, "强化学习"', caller()))
    assert "never match" not in text_of(await commands.handle('/interests watch: latent space, cs.LG', caller()))


async def test_interests_with_nothing_to_match_are_refused_and_keep_the_old_ones(commands: Commands) -> None:
    await commands.handle("/interests diffusion LLMs", caller())
    for text in ("？？？", "!!! ...", "，；、"):
        reply = await commands.handle(f"/interests {text}", caller())
        assert reply.kind == "error" and "Not saved" in text_of(reply) and "Usage: /interests" in text_of(reply)
    sub = await commands.services.store.get_subscription(CHAT)
    assert sub is not None and sub.interests == "diffusion LLMs"


async def test_interests_that_only_avoid_topics_say_what_they_do(commands: Commands) -> None:
    reply = text_of(await commands.handle("/interests not medical imaging, 不要遥感", caller()))
    assert "Topics you avoid" in reply and "medical imaging; 遥感" in reply
    assert "Interests saved" not in reply, "no \"My interests\" section comes of avoided topics alone"
    sub = await commands.services.store.get_subscription(CHAT)
    assert sub is not None and sub.interests == "not medical imaging, 不要遥感"
    both = text_of(await commands.handle("/interests robot learning, not medical imaging, watch: cs.RO", caller()))
    assert "Interests saved" in both and "robot learning" in both
    assert "Topics you avoid" in both and "Watch list" in both


async def test_interests_are_set_shown_and_cleared(commands: Commands) -> None:
    assert "No interests" in text_of(await commands.handle("/interests", caller()))
    await commands.handle("/interests diffusion LLMs,  KV-cache compression", caller())
    assert "diffusion LLMs, KV-cache compression" in text_of(await commands.handle("/interests", caller()))
    await commands.handle("/interests clear", caller())
    sub = await commands.services.store.get_subscription(CHAT)
    assert sub is not None and sub.interests == ""


async def test_today_paper_search_and_votes_use_the_store(commands: Commands) -> None:
    services = commands.services
    assert "No digest" in text_of(await commands.handle("/today", caller()))
    await run_day(services, now=NOW, input_path=SAMPLE, offline=True, write_markdown=False)
    await commands.handle("/min_score 6", caller())
    today = await commands.handle("/today", caller())
    assert today.kind == "digest" and any(isinstance(b, PaperItem) for b in today.blocks)
    paper = await commands.handle("/paper 2512.17073", caller())
    assert any(isinstance(b, PaperItem) and b.arxiv_id == "2512.17073" for b in paper.blocks)
    assert "Scores per field" in text_of(paper) and paper.buttons
    hits = await commands.handle("/search mixture of experts", caller())
    assert any(isinstance(b, PaperItem) for b in hits.blocks)
    result = await commands.handle_action("vote", "+1:2512.17073", caller())
    assert result.toast == "Noted 👍"
    assert await services.store.get_votes(CHAT) == {"2512.17073": 1}


async def test_search_says_why_common_words_or_unknown_chinese_find_nothing(commands: Commands) -> None:
    await run_day(commands.services, now=NOW, input_path=SAMPLE, offline=True, write_markdown=False)
    common = text_of(await commands.handle("/search the of and", caller()))
    assert "has only common words" in common and "add a topic word" in common
    assert "Usage: /search" in text_of(await commands.handle("/search ？？？ ...", caller()))
    english = await commands.handle("/search mixture of experts", caller())
    chinese = await commands.handle("/search 混合专家", caller())
    assert "Searched in English as: mixture of experts" in text_of(chinese)
    assert [b.arxiv_id for b in chinese.blocks if isinstance(b, PaperItem)] == \
        [b.arxiv_id for b in english.blocks if isinstance(b, PaperItem)] != []
    unknown = await commands.handle("/search 的了吗", caller())
    assert "holds no Chinese term known here" in text_of(unknown) and "/search diffusion model" in text_of(unknown)


async def test_settings_language_and_help(commands: Commands) -> None:
    await commands.handle("/time 7:30", caller())
    await commands.handle("/timezone Europe/Berlin", caller())
    assert "Unknown timezone" in text_of(await commands.handle("/timezone Mars/Base", caller()))
    assert "Only zh or en" in text_of(await commands.handle("/lang fr", caller()))
    assert "中文" in text_of(await commands.handle("/lang zh", caller()))
    settings = text_of(await commands.handle("/settings", caller()))
    assert "07:30" in settings and "Europe/Berlin" in settings and "阈值" in settings
    help_text = text_of(await commands.handle("/help", caller()))
    assert all(f"/{name}" in help_text for name, _, _ in COMMANDS)
    assert (await commands.handle("/nonsense", caller())).kind == "error"
