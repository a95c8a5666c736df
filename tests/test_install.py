"""Paths and installs as a user meets them: relative settings are the working folder's, `.env` is the working
folder's, and the product runs from a wheel installed anywhere, its prompts, default fields and ranker model
inside the package.

The wheel test builds from a copy of the sources in tmp_path (nothing is written into the repo), installs the
wheel with no index into a fresh venv, lends it the test environment's dependencies through a .pth file (offline:
no registry is asked), and runs `arxiv-digest run --offline` from another temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from bot import wiring
from bot.cli import main
from core.build.chart import CJK_FONT_FILE, FONTS_PACKAGE
from core.config import PROJECT_ROOT, Settings
from core.errors import ConfigError
from core.fields import FIELDS_PACKAGE, load_fields, shipped_fields
from core.prompts import PROMPTS_PACKAGE, load_prompt, prompts_dir
from core.score.ranker_model import RANKER_FILE, RANKER_PACKAGE, shipped_model
from core.store.migrate import head

SAMPLE = PROJECT_ROOT / "data" / "arxiv" / "2025-12-22.jsonl"
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
ONE_FIELD = """[[field]]
slug = "mine"
name_en = "Mine"
description_en = "My own field."
keywords = ["diffusion"]
"""


# -- relative paths and .env ---------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({"DATABASE_PATH": "db/x.sqlite", "FIELDS_PATH": "my-fields.toml", "DIGEST_DIR": "out"})
    assert (s.database_path, s.fields_path, s.digest_dir) == (
        tmp_path / "db" / "x.sqlite", tmp_path / "my-fields.toml", tmp_path / "out")
    defaults = Settings.from_env({})
    assert defaults.database_path == tmp_path / "data" / "arxiv_digest.db"
    assert defaults.digest_dir == tmp_path / "data" / "digests"
    # resolved once, at start-up: a later change of folder does not move them
    monkeypatch.chdir(PROJECT_ROOT)
    assert s.database_path == tmp_path / "db" / "x.sqlite"


def test_absolute_and_home_paths_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    s = Settings.from_env({"DATABASE_PATH": str(tmp_path / "abs.db"), "DIGEST_DIR": "~/digests"})
    assert s.database_path == tmp_path / "abs.db"
    assert s.digest_dir == tmp_path / "home" / "digests"


def test_run_from_another_folder_writes_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["run", "--offline", "--input", str(SAMPLE), "--quiet"], env={"DIGEST_LANGUAGE": "en"}) == 0
    assert (work / "data" / "arxiv_digest.db").is_file()
    assert (work / "data" / "digests" / "2025-12-22.md").is_file()


def test_dotenv_is_read_from_the_working_folder_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, work = tmp_path / "project", tmp_path / "work"
    project.mkdir()
    work.mkdir()
    (project / ".env").write_text("SLACK_BOT_TOKEN=xoxb-beside-the-code\n")
    # before: a working folder without .env fell back to the one in the project folder
    monkeypatch.setattr(wiring, "PROJECT_ROOT", project, raising=False)
    monkeypatch.chdir(work)
    assert "SLACK_BOT_TOKEN" not in load_env_clean()
    (work / ".env").write_text("SLACK_BOT_TOKEN=xoxb-here\nDATABASE_PATH=db.sqlite\n")
    env = load_env_clean()
    assert env["SLACK_BOT_TOKEN"] == "xoxb-here"
    assert Settings.from_env(env).database_path == work / "db.sqlite"


def load_env_clean() -> dict[str, str]:
    return wiring.load_env({"PATH": os.environ.get("PATH", "")})


# -- package data ----------------------------------------------------------------------------------------------


def test_prompts_are_package_data_found_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert prompts_dir() == resources.files(PROMPTS_PACKAGE)
    for name in ("score_papers", "judge_interests", "summarize_papers"):
        assert load_prompt(name).text == (PROJECT_ROOT / "prompts" / f"{name}.md").read_text(encoding="utf-8")


def test_default_fields_are_the_shipped_package_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.fields_path is None
    assert shipped_fields() == resources.files(FIELDS_PACKAGE)
    assert load_fields(settings.fields_path) == load_fields(PROJECT_ROOT / "data" / "fields")
    assert len(load_fields(None)) == 7


def test_a_checkout_reads_its_own_folders_through_the_editable_install() -> None:
    # `pip install -e .` maps the packages onto the repo's folders: an edited template is read at once
    assert Path(str(resources.files(PROMPTS_PACKAGE))) == PROJECT_ROOT / "prompts"
    assert Path(str(resources.files(FIELDS_PACKAGE))) == PROJECT_ROOT / "data" / "fields"
    assert Path(str(resources.files(RANKER_PACKAGE))) == PROJECT_ROOT / "data" / "ranker"
    assert Path(str(resources.files(FONTS_PACKAGE))) == PROJECT_ROOT / "data" / "fonts"


def test_missing_package_data_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.prompts.PROMPTS_PACKAGE", "arxiv_digest_data.gone")
    monkeypatch.setattr("core.fields.FIELDS_PACKAGE", "arxiv_digest_data.gone")
    with pytest.raises(ConfigError, match="prompt templates not installed .*reinstall"):
        load_prompt("score_papers")
    with pytest.raises(ConfigError, match="default fields not installed .*set FIELDS_PATH or reinstall"):
        load_fields(None)
    shipped_model.cache_clear()
    monkeypatch.setattr("core.score.ranker_model.RANKER_PACKAGE", "arxiv_digest_data.gone")
    try:
        with pytest.raises(ConfigError, match="ranker model is not installed .*reinstall"):
            shipped_model()
    finally:
        shipped_model.cache_clear()


def test_a_users_fields_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-fields.toml").write_text(ONE_FIELD, encoding="utf-8")
    settings = Settings.from_env({"FIELDS_PATH": "my-fields.toml"})
    assert [f.slug for f in load_fields(settings.fields_path)] == ["mine"]


def test_every_code_package_is_in_the_wheel() -> None:
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(PROJECT_ROOT).parts)
               for top in ("core", "bot") for p in (PROJECT_ROOT / top).rglob("__init__.py")}
    assert on_disk - packages == set(), "list the new package in pyproject.toml's [tool.setuptools] packages"
    mapped = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert mapped == {PROMPTS_PACKAGE: "prompts", FIELDS_PACKAGE: "data/fields", RANKER_PACKAGE: "data/ranker",
                      FONTS_PACKAGE: "data/fonts"}


# -- a wheel installed into a fresh venv, run from another folder ---------------------------------------------

SOURCES = ("pyproject.toml", "README.md", "LICENSE", "core", "bot", "prompts", "data/fields", "data/ranker",
           "data/fonts")


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def build_wheel(tmp_path: Path) -> Path:
    """`pip wheel --no-deps` of a copy of the sources, built with this environment's setuptools (offline)."""
    src = tmp_path / "src"
    for name in SOURCES:
        origin, target = PROJECT_ROOT / name, src / name
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", tmp_path / "dist", src], cwd=tmp_path, env=pip_env())
    (wheel,) = (tmp_path / "dist").glob("arxiv_digest-*.whl")
    return wheel


def pip_env() -> dict[str, str]:
    return {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def test_the_wheel_installs_into_a_fresh_venv_and_runs_from_another_folder(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("arxiv_digest_data/prompts/score_papers.md", "arxiv_digest_data/prompts/judge_interests.md",
                    "arxiv_digest_data/prompts/summarize_papers.md", "arxiv_digest_data/fields/default.toml",
                    f"{RANKER_PACKAGE.replace('.', '/')}/{RANKER_FILE}",
                    f"{FONTS_PACKAGE.replace('.', '/')}/{CJK_FONT_FILE}", f"{FONTS_PACKAGE.replace('.', '/')}/OFL.txt",
                    "core/config.py", "bot/cli.py", "core/store/migrations/env.py",
                    "core/store/migrations/versions/0001_schema_v9.py"):
        assert shipped in names, shipped
    assert not [n for n in names if n.startswith(("tests/", "data/", "prompts/", "bench/"))]

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel],
         cwd=tmp_path, env=pip_env())
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                        cwd=tmp_path).stdout.strip())
    # the dependencies, lent from this environment (their .pth files, the editable checkout's among them, are
    # not processed: a path in a .pth file is added as it is)
    lent = [p for p in {*site.getsitepackages(), sysconfig.get_path("purelib")} if Path(p).is_dir()]
    (purelib / "zz_test_dependencies.pth").write_text("\n".join(lent) + "\n", encoding="utf-8")

    work = tmp_path / "work"
    work.mkdir()
    day = work / "2025-12-22.jsonl"
    shutil.copy2(SAMPLE, day)
    (work / ".env").write_text("DIGEST_LANGUAGE=en\n", encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}

    where = _run([python, "-c", "import core, bot.cli, arxiv_digest_data.prompts as p, arxiv_digest_data.fields as f;"
                  "import arxiv_digest_data.ranker as r;"
                  "print(core.__file__); print(p.__file__); print(f.__file__); print(r.__file__)"],
                 cwd=work, env=env).stdout.split()
    assert all(Path(w).is_relative_to(venv) for w in where), where
    version = _run([python, "-c", "from core.prompts import load_prompt; print(load_prompt('score_papers').version)"],
                   cwd=work, env=env).stdout.strip()
    assert version == load_prompt("score_papers").version
    font = _run([python, "-c", "from core.build.chart import _fonts, drawable;"
                 "print(drawable('周一'), _fonts()[1][1].fname)"], cwd=work, env=env).stdout.split()
    assert font[0] == "True" and Path(font[1]).is_relative_to(venv), "the chart's Chinese font, from the wheel"

    before = _tree(venv)
    result = _run([venv / "bin" / "arxiv-digest", "run", "--offline", "--input", day.name], cwd=work, env=env)
    digest = work / "data" / "digests" / "2025-12-22.md"
    assert digest.is_file(), result.stdout + result.stderr
    assert (work / "data" / "arxiv_digest.db").is_file()
    text = digest.read_text(encoding="utf-8")
    sample_ids = {json.loads(line)["id"] for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()}
    assert any(paper_id in text for paper_id in sample_ids), text[:500]
    assert not re.search(r"[\u4e00-\u9fff]", text), "the .env in the working folder asked for English"
    assert "Fits " in text and "Matched: " not in text, "the learned ranker scored the day, from the wheel's model"
    assert _tree(venv) == before, "the run wrote next to the installed package"
    old = work / "v9.sqlite"  # a database from before Alembic, upgraded with the wheel's migrations
    shutil.copy2(PROJECT_ROOT / "tests" / "data" / "v9.sqlite", old)
    migrated = _run([venv / "bin" / "arxiv-digest", "migrate"], cwd=work, env={**env, "DATABASE_PATH": old.name})
    assert migrated.stdout.strip() == f"{old}: schema v9 (before Alembic) -> {head()}", \
        migrated.stdout + migrated.stderr
