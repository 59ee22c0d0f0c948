#!/usr/bin/env bash
# System packages the end-to-end tests (tests/e2e) need: Debian's openssh-server
# (sshd) and tmux. Installs only what is missing; needs root and a package mirror.
# Exit 0: all present. Exit 3: cannot try (not root, no apt-get, no network).
# Exit 1: the install itself failed.
set -euo pipefail

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ci-system-deps: need root and apt-get to install: ${missing[*]}" >&2
    exit 3
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -q >&2; then
    echo "ci-system-deps: apt-get update failed (no network?); cannot install: ${missing[*]}" >&2
    exit 3
fi
# --no-install-recommends: no xauth, ncurses-term and the like; policy-rc.d keeps
# the package from starting a system sshd on port 22 where an init system exists.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.tuilab
chmod +x /usr/sbin/policy-rc.d.tuilab
if [ ! -e /usr/sbin/policy-rc.d ]; then
    mv /usr/sbin/policy-rc.d.tuilab /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
else
    rm -f /usr/sbin/policy-rc.d.tuilab
fi
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || {
    echo "ci-system-deps: apt-get install ${missing[*]} failed" >&2
    exit 1
}
