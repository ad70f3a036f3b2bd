#!/usr/bin/env bash
# Installs the Debian packages moai needs to build, test and benchmark. Idempotent: when every package is
# already present it only runs dpkg-query and returns in well under a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git xz-utils ca-certificates jq python3
  libopenblas-dev libblis-dev
  nlohmann-json3-dev libsimdjson-dev libyaml-cpp-dev libcli11-dev libutf8proc-dev libcpp-httplib-dev
  libxxhash-dev libzstd-dev zlib1g-dev
  libopenmpi-dev openmpi-bin
  libgtest-dev libgmock-dev libbenchmark-dev
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
