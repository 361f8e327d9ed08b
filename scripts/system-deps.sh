#!/usr/bin/env bash
# Install the system packages the explorer uses, from apt, when they are missing:
#   graphviz  - the `dot` binary (graph layout, SVG/PNG export)
#   chromium  - the browser the browser tests drive (Playwright cannot download one here)
# Usage: scripts/system-deps.sh [graphviz] [chromium]   (default: both)
set -euo pipefail
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(graphviz chromium)
missing=()
for pkg in "${want[@]}"; do
  case "$pkg" in
    graphviz) command -v dot >/dev/null || missing+=(graphviz) ;;
    chromium) [ -x /usr/bin/chromium ] || missing+=(chromium fonts-dejavu-core) ;;
  esac
done
[ ${#missing[@]} -gt 0 ] || exit 0
if ! command -v apt-get >/dev/null; then
  echo "please install: ${missing[*]} (no apt-get here)" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "installing ${missing[*]} with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
