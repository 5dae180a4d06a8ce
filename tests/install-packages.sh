#!/usr/bin/env bash
# tests/install-packages.sh — installs what the build and the tests need (Debian 12, as
# root): debian-packages.txt (build and run) and debian-test-packages.txt (tests only).
# The tests use Postfix's smtp-sink and smtp-source and start private Postfix instances of
# their own; they never need the system's postfix service. So when this script is the one
# that brings postfix in, apt is kept from enabling or starting a second MTA on port 25:
# the unit is masked on systemd hosts, and a policy-rc.d refuses service starts during the
# install (removed again after; one that already exists is left alone). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(cat debian-packages.txt debian-test-packages.txt)

policy=
if ! dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q 'ok installed'; then
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl mask postfix.service >/dev/null 2>&1 || true
    fi
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\n# ringmail tests/install-packages.sh: no service starts during the install\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs
