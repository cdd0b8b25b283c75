#!/usr/bin/env bash
# Schemas the deployment tests validate against, fetched from the Go module proxy (a registry that
# answers where GitHub does not) and cached outside the repository. Prints the file's path.
#
#   bash deploy/local/schemas.sh podmonitor   # the Prometheus Operator's PodMonitor CRD (deploy/k8s)
#   bash deploy/local/schemas.sh compose      # the Compose Specification's JSON schema (docker-compose.yml)
set -euo pipefail

cache="${PERFSTREAM_CACHE:-$HOME/.cache/perfstream}/schemas"
case "${1:-}" in
  podmonitor)
    module=github.com/prometheus-operator/prometheus-operator
    version="${PROMETHEUS_OPERATOR_VERSION:-v0.80.1}"
    member=example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml ;;
  compose)
    module=github.com/compose-spec/compose-go/v2
    version="${COMPOSE_GO_VERSION:-v2.16.2}"
    member=schema/compose-spec.json ;;
  *) echo "usage: $0 podmonitor|compose" >&2; exit 2 ;;
esac

file="$cache/${module//\//_}@$version/$(basename "$member")"
if [[ ! -s "$file" ]]; then
  mkdir -p "$(dirname "$file")"
  zip="$(mktemp)"
  trap 'rm -f "$zip"' EXIT
  curl -fsSL --retry 3 -o "$zip" "https://proxy.golang.org/$module/@v/$version.zip"
  unzip -p "$zip" "$module@$version/$member" > "$file.tmp"
  mv "$file.tmp" "$file"
fi
echo "$file"
