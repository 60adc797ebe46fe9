#!/usr/bin/env bash
# Regenerates deepcopy, CRDs and RBAC, and fails when the result differs from what was there:
# generated files are never edited by hand, and a stale one must not land.
set -euo pipefail
cd "$(dirname "$0")/.."

generated=(api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml)
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
for f in "${generated[@]}"; do
  mkdir -p "$before/$(dirname "$f")"
  [[ -e $f ]] && cp -r "$f" "$before/$f"
done

make --no-print-directory generate manifests >/dev/null

stale=0
for f in "${generated[@]}"; do
  if ! diff -r -u "$before/$f" "$f" >/dev/null 2>&1; then
    echo "stale generated file: $f" >&2
    stale=1
  fi
done
if [[ $stale -ne 0 ]]; then
  echo "generated files were out of date with the markers; they are regenerated now: review and commit them" >&2
  exit 1
fi
echo "generated files are up to date"
