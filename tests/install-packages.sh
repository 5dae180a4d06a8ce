#!/usr/bin/env bash
# tests/install-packages.sh — installs what the build and the tests need (Debian 12, as
# root): debian-packages.txt (build and run) and debian-test-packages.txt (tests only).
# The tests use Postfix's smtp-sink and smtp-source and start private Postfix instances of
# their own, and start their own knotd (Knot DNS) on a loopback port with a generated zone;
# they never need the system's postfix or knot service; from prometheus they need only
# promtool (GET /metrics is checked with it). So when this script is the one that brings a
# service package in, apt is kept from enabling or starting it (a second MTA on port 25, a
# DNS server on port 53, a Prometheus server on 9090): its unit is masked on systemd hosts, and a
# policy-rc.d refuses service starts during the install (removed again after; one that
# already exists is left alone). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(cat debian-packages.txt debian-test-packages.txt)

policy=
fresh=
for service in postfix knot prometheus; do  # package and unit share the name
    if ! dpkg-query -W -f='${Status}' "$service" 2>/dev/null | grep -q 'ok installed'; then
        fresh=1
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
            systemctl mask "$service.service" >/dev/null 2>&1 || true
        fi
    fi
done
if [ -n "$fresh" ]; then
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\n# ringmail tests/install-packages.sh: no service starts during the install\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs
