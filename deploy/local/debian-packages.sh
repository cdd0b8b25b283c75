#!/usr/bin/env bash
# The Debian packages perfstream's tests drive, installed when missing (needs root, as in CI):
#   prometheus  promtool checks and unit-tests deploy/prometheus/rules.yml; the server scrapes a worker
set -euo pipefail

missing=()
command -v promtool >/dev/null && command -v prometheus >/dev/null || missing+=(prometheus)

if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  install() { apt-get install -y -q --no-install-recommends "${missing[@]}"; }
  install || { apt-get update -q && install; }  # a stale package index is the usual reason to fail
fi
