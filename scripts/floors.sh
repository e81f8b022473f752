#!/usr/bin/env bash
# The floor environment: sealbox with every direct dependency at the lowest version
# pyproject.toml allows (uv's --resolution lowest-direct), and the smoke suite run there.
# A floor that is not true fails here. Usage: scripts/floors.sh PYTHON
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:?usage: scripts/floors.sh PYTHON}
uv=.venv/bin/uv
venv=.venv-floors
extras="service,postgres,redis,vault,ssh,bcrypt"
# An environment is made again only when what decides its contents changes: this script,
# pyproject.toml, the Python, uv. sealbox itself is installed editable, so a change to its
# code needs no new environment.
key=$(cat "$0" pyproject.toml <("$python" -VV) <("$uv" --version) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$venv/.floors-key" 2>/dev/null)" != "$key" ]; then
  rm -rf "$venv"
  "$uv" venv --quiet --python "$python" "$venv"
  "$uv" pip install --quiet --python "$venv/bin/python" --resolution lowest-direct -e ".[$extras]"
  # The test runner at its usual versions: only sealbox's own dependencies are at their floors.
  "$uv" pip install --quiet --python "$venv/bin/python" pytest pytest-timeout hypothesis trustme
  echo "$key" >"$venv/.floors-key"
fi
echo "floor environment:" >&2
"$uv" pip list --python "$venv/bin/python" 2>/dev/null \
  | grep -iE '^(cryptography|argon2-cffi|pyjwt|httpx2|click|rich|python-dotenv|bcrypt|pydantic-settings|fastapi|uvicorn|uvloop|httptools|sqlalchemy|aiosqlite|alembic|python-multipart|fastapi-swagger|precis-i18n|hvac|asyncpg|redis) ' >&2 || true
"$venv/bin/python" -m pytest -q -p no:cacheprovider -o addopts="" --strict-markers tests/smoke

# What a user installing one extra, or none, meets: every need of an extra is named with
# the exact pip install to run, and `sealbox[service]` alone serves.
# Each keeps its dependencies between runs (same key as above); sealbox itself is built and
# installed anew every time, as a user's pip install would.
for extras in "" "service"; do
  venv=.venv-extras-${extras:-bare}
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  if [ "$(cat "$venv/.floors-key" 2>/dev/null)" != "$key" ]; then
    rm -rf "$venv"
    "$uv" venv --quiet --python "$python" "$venv"
    "$uv" pip install --quiet --python "$venv/bin/python" --refresh-package sealbox "$spec"
    echo "$key" >"$venv/.floors-key"
  else
    "$uv" pip install --quiet --python "$venv/bin/python" --reinstall-package sealbox "$spec"
  fi
  if [ -z "$extras" ]; then
    out=$("$venv/bin/python" -m sealbox --help 2>&1 || true)
    grep -qF "pip install 'sealbox[cli]'" <<<"$out" || { echo "bare install: no cli hint: $out" >&2; exit 1; }
    for module in sealbox.service sealbox.integrations.sqlalchemy; do
      out=$("$venv/bin/python" -c "import $module" 2>&1 || true)
      grep -qF "pip install 'sealbox[service]'" <<<"$out" \
        || { echo "bare install: import $module gives no hint: $out" >&2; exit 1; }
    done
    out=$("$venv/bin/python" -c "from sealbox.secrets.vault import VaultKV2Source; VaultKV2Source('https://vault.test', 'app', token='t')" 2>&1 || true)
    grep -qF "pip install 'sealbox[vault]'" <<<"$out" || { echo "bare install: no vault hint: $out" >&2; exit 1; }
    "$venv/bin/python" -c "import sealbox; sealbox.Keyring.generate().seal(b'x')"
    echo "bare install: the library works, and every extra's absence is named" >&2
  else
    work=$(mktemp -d)
    "$venv/bin/sealbox" serve --data-dir "$work/data" --port 0 --check >/dev/null 2>&1 \
      || { echo "sealbox[service] alone cannot serve" >&2; rm -rf "$work"; exit 1; }
    rm -rf "$work"
    echo "sealbox[service] alone provisions and checks a data folder" >&2
  fi
done
