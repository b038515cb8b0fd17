# shellcheck shell=bash
# Shared helpers for the scripts in this folder. Source it; do not run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
VENV="$ROOT/.venv"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# require_cmd CMD HINT: fail (never skip) with an install hint when a tool is missing.
require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed: $2"
}
