#!/usr/bin/env bash
# Installs everything agenthost needs on Debian/Ubuntu, as root:
# the sandbox's system packages, the npm dependencies (which include the
# Claude Code CLI), the server's compiled build and the web console's build;
# and Chromium, which the console's browser tests drive. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# runc: the docker provider's tests run Podman with it (crun 1.8 refuses cgroup v1 hosts whose v2 mount holds a controller).
packages=(bubblewrap socat ripgrep procps util-linux ca-certificates podman crun catatonit runc chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install.sh: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# gVisor (the gvisor provider). Debian 12's own runsc (2022) rejects the statx
# flags bookworm's coreutils pass, so there it comes from bookworm-backports.
if ! runsc --version 2>/dev/null | grep -qE 'runsc version (0\.0~)?(202[4-9]|20[3-9])'; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install.sh: need root to install runsc" >&2
    exit 1
  fi
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [[ $suite == bookworm ]]; then
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo 'deb http://deb.debian.org/debian bookworm-backports main' >/etc/apt/sources.list.d/agenthost-backports.list
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports runsc >/dev/null
  else
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runsc >/dev/null
  fi
fi

# `npm install` honours package-lock.json like `npm ci`, but does not refuse a
# lock that lacks optional packages for other platforms (npm/cli#4828).
npm install --no-audit --no-fund

# The compiled server bin/agenthost runs (dist/; not committed): about 40 MiB
# less RSS than running the sources through tsx.
npm run build

# The console served at / (web/dist; not committed).
npm run build:web
