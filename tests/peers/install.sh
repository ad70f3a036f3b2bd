#!/usr/bin/env bash
# Installs the npm test peers (HF tokenizers 0.22.2 via @anush008/tokenizers@0.6.0; the official openai client;
# DuckDB, parquet-wasm and apache-arrow for the Parquet fixtures)
# into tests/peers/node_modules. Needs node >= 18 and network access to the npm registry; without them
# the peer tests skip with a message. Safe to re-run (a no-op when already installed).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "tests/peers/install.sh: npm not found; the HF peer tests will be skipped" >&2
  exit 0
fi
if [ -f node_modules/@anush008/tokenizers/package.json ] && [ -f node_modules/openai/package.json ] &&
  [ -f node_modules/@duckdb/node-api/package.json ] && [ -f node_modules/parquet-wasm/package.json ] &&
  [ -f node_modules/apache-arrow/package.json ]; then
  exit 0
fi
npm install --no-audit --no-fund --loglevel=error || {
  echo "tests/peers/install.sh: npm install failed (offline?); the HF peer tests will be skipped" >&2
  exit 0
}
