#!/usr/bin/env bash
# Installs the Debian packages that the tests and the demo run for real, when they are missing:
#   slapd, ldap-utils  a private OpenLDAP server for the directory tests and the demo
#   chromium           headless browser for the invitation page's browser test (internal/web)
# Nothing here starts or configures the system's own slapd service: the tests run their own
# slapd process with a config of their own in a temp dir (internal/directory/ldaptest).
set -euo pipefail

need=()
command -v /usr/sbin/slapd >/dev/null 2>&1 || need+=(slapd)
command -v ldapwhoami >/dev/null 2>&1 || need+=(ldap-utils)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [[ ${#need[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "missing Debian packages: ${need[*]}; install them with:" >&2
  echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
apt-get update -qq
# policy-rc.d keeps the package from starting the system slapd service; the tests never use it.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=true
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
$created_policy && rm -f "$policy"
echo "installed: ${need[*]}"
