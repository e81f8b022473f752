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
rm -rf "$venv"
"$uv" venv --quiet --python "$python" "$venv"
"$uv" pip install --quiet --python "$venv/bin/python" --resolution lowest-direct -e ".[$extras]"
# The test runner at its usual versions: only sealbox's own dependencies are at their floors.
"$uv" pip install --quiet --python "$venv/bin/python" pytest pytest-timeout hypothesis trustme
echo "floor environment:" >&2
"$uv" pip list --python "$venv/bin/python" 2>/dev/null \
  | grep -iE '^(cryptography|argon2-cffi|pyjwt|httpx2|click|rich|python-dotenv|bcrypt|pydantic-settings|fastapi|uvicorn|uvloop|httptools|sqlalchemy|aiosqlite|alembic|python-multipart|fastapi-swagger|precis-i18n|hvac|asyncpg|redis) ' >&2 || true
"$venv/bin/python" -m pytest -q -p no:cacheprovider -o addopts="" --strict-markers tests/smoke
