#!/usr/bin/env bash
# Install the Debian packages that sealbox's interop tests and benchmarks talk to.
# Runs only where apt-get is usable (root, or sudo without a password); elsewhere it
# says what is missing and the tests that need it skip with a reason.
set -euo pipefail

# command -> Debian package
declare -A wanted=(
  [age]=age
  [ssh-keygen]=openssh-client
  [openssl]=openssl
  [chromium]=chromium
  [wrk]=wrk
  [curl]=curl
  [oathtool]=oathtool
  [certutil]=libnss3-tools
  [/usr/bin/time]=time
)
missing=()
for cmd in "${!wanted[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${wanted[$cmd]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "sealbox: note: no apt-get here; tests needing ${missing[*]} will skip" >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "sealbox: note: cannot run apt-get (not root, no sudo); tests needing ${missing[*]} will skip" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null || true
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
