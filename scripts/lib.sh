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

# use_test_cluster: the test cluster (scripts/cluster, docs/testing.md) for the rest of the script:
# started when none is up, and then stopped when the script exits (GREETER_KEEP_CLUSTER=1 keeps
# it; this sets the script's EXIT trap); a cluster that was already up stays up. Exports KUBECONFIG
# and GREETER_REPO. Needs root.
use_test_cluster() {
  if ! "$ROOT/scripts/cluster" status >/dev/null 2>&1; then
    log "scripts/cluster up"
    local start=$SECONDS
    "$ROOT/scripts/cluster" up
    if [ "${GREETER_KEEP_CLUSTER:-}" != 1 ]; then trap '"$ROOT/scripts/cluster" down' EXIT; fi
    log "cluster up in $((SECONDS - start)) s"
  fi
  export KUBECONFIG="${GREETER_CLUSTER_DIR:-$ROOT/.cluster}/kubeconfig" GREETER_REPO="$ROOT"
}
