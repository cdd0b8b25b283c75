#!/usr/bin/env bash
# The Prometheus Operator's PodMonitor CRD, for validating deploy/k8s/podmonitor.yaml in the tests.
# It comes from the operator's Go module on the Go module proxy (a registry reachable where GitHub is
# not), cached outside the repository; prints the CRD's path.
set -euo pipefail

version="${PROMETHEUS_OPERATOR_VERSION:-v0.80.1}"
cache="${PERFSTREAM_CACHE:-$HOME/.cache/perfstream}/prometheus-operator-$version"
crd="$cache/monitoring.coreos.com_podmonitors.yaml"

if [[ ! -s "$crd" ]]; then
  mkdir -p "$cache"
  zip="$cache/module.zip"
  curl -fsSL --retry 3 -o "$zip" "https://proxy.golang.org/github.com/prometheus-operator/prometheus-operator/@v/$version.zip"
  unzip -p "$zip" "github.com/prometheus-operator/prometheus-operator@$version/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" > "$crd.tmp"
  mv "$crd.tmp" "$crd"
  rm -f "$zip"
fi
echo "$crd"
