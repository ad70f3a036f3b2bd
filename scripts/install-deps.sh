#!/usr/bin/env bash
# Installs the Debian packages moai needs to build, test and benchmark. Idempotent: when every package is
# already present it only runs dpkg-query and returns in well under a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git xz-utils ca-certificates jq python3
  libopenblas-dev libblis-dev
  nlohmann-json3-dev libsimdjson-dev libyaml-cpp-dev libcli11-dev libutf8proc-dev libcpp-httplib-dev
  libxxhash-dev libzstd-dev zlib1g-dev libsnappy-dev liblz4-dev libbrotli-dev libcurl4-openssl-dev libssl-dev
  libopenmpi-dev openmpi-bin
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format clang-tidy
)

# Test peers, optional: with them the Jinja2 chat-template check and the HF tokenizers / openai npm
# client tests run instead of skipping. Installed only when the tool is missing (a node from elsewhere,
# e.g. NodeSource with its own npm, is left alone); a failure here is a warning, never an error.
optional=()
python3 -c 'import jinja2' 2>/dev/null || optional+=(python3-jinja2)
command -v node >/dev/null 2>&1 || optional+=(nodejs)
command -v npm >/dev/null 2>&1 || optional+=(npm)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0 && ${#optional[@]} == 0)); then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ((${#optional[@]} > 0)); then
  echo "install-deps: installing the optional test peers ${optional[*]}"
  { ((${#missing[@]} > 0)) || "${sudo_cmd[@]}" apt-get update -qq; } &&
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${optional[@]}" ||
    echo "install-deps: warning: could not install ${optional[*]}; those peer tests will skip" >&2
fi
