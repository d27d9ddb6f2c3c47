#!/usr/bin/env bash
# What `make test` needs besides Python and the infrastructure, from Debian's packages, installed only when missing:
# headless Chromium and its matching driver (the web console's browser test drives them with Selenium), and a
# compose implementation whose `config` command validates docker-compose.yml without a container engine.
# Usage: test-tools.sh install|compose-config
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

install() {
  local need=()
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  [ ${#need[@]} -eq 0 ] && return 0
  echo "installing ${need[*]} from Debian's packages" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# Parses, merges and validates the file against the Compose schema; no engine is contacted.
compose_config() { docker-compose --project-directory "$ROOT" -f "$ROOT/docker-compose.yml" config -q; }

case "${1:-}" in
  install) install ;;
  compose-config) compose_config && echo "docker-compose.yml: valid" ;;
  *) echo "usage: $0 install|compose-config" >&2; exit 2 ;;
esac
