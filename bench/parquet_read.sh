#!/usr/bin/env bash
# Parquet reading speed: moai vs DuckDB (single-threaded, SET threads=1) on the text column of a 100 MB+
# Parquet file, and `moai data prepare` from that file vs from the same rows as JSONL.
# The file is made in $WORK (default /tmp/moai-parquet-bench, not committed) by DuckDB from the
# corpora of ../shared/assets (blank-line-separated documents, repeated with a copy number in front so
# that no two rows are equal and dictionary encoding cannot shortcut, until the snappy file passes 100 MB).
# Needs the npm peers (tests/peers/install.sh) and a build with the bench target.
# usage: bench/parquet_read.sh [BUILD_DIR] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
runs=${2:-3}
assets=${MOAI_ASSETS_DIR:-$here/../shared/assets}
work=${WORK:-/tmp/moai-parquet-bench}
mkdir -p "$work"
export NODE_PATH=$here/tests/peers/node_modules

if [ ! -f "$work/text.parquet" ] || [ "$(stat -c %s "$work/text.parquet")" -lt 100000000 ]; then
  node --input-type=module - "$assets/corpora" "$work" <<'JS'
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(process.env.NODE_PATH + '/');
const duckdb = require('@duckdb/node-api');
const [corpora, work] = process.argv.slice(2);
const docs = [];
for (const lang of ['en', 'ko', 'ja', 'zh']) {
  for (const d of fs.readFileSync(`${corpora}/${lang}.txt`, 'utf8').split(/\n\s*\n/)) if (d.trim()) docs.push(d);
}
const out = fs.openSync(`${work}/text.jsonl`, 'w');
let bytes = 0, id = 0;
for (let copy = 0; bytes < 240e6; ++copy) {
  const lines = docs.map((d) => JSON.stringify({ id: id++, text: `(${copy}) ${d}` })).join('\n') + '\n';
  fs.writeSync(out, lines);
  bytes += Buffer.byteLength(lines);
}
fs.closeSync(out);
const db = await (await duckdb.DuckDBInstance.create(':memory:')).connect();
await db.run(`COPY (SELECT * FROM read_json('${work}/text.jsonl', format='newline_delimited',
  columns={id: 'BIGINT', text: 'VARCHAR'})) TO '${work}/text.parquet' (FORMAT parquet, COMPRESSION snappy)`);
JS
fi
ls -la "$work/text.parquet" "$work/text.jsonl"

echo "== DuckDB, threads=1: SELECT count(text), sum(strlen(text))"
node --input-type=module - "$work/text.parquet" "$runs" <<'JS'
import { createRequire } from 'node:module';
const require = createRequire(process.env.NODE_PATH + '/');
const duckdb = require('@duckdb/node-api');
const [file, runs] = process.argv.slice(2);
const db = await (await duckdb.DuckDBInstance.create(':memory:')).connect();
await db.run('SET threads=1');
const times = [], cpus = [];
let rows, bytes;
for (let i = 0; i < Number(runs); ++i) {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const r = await db.runAndReadAll(`SELECT count(text), sum(strlen(text)) FROM read_parquet('${file}')`);
  const c = process.cpuUsage(c0);
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  cpus.push((c.user + c.system) / 1e6);
  [rows, bytes] = r.getRows()[0].map(Number);
}
const median = (v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
const t = median(times), cpu = median(cpus);
console.log(`duckdb: median wall ${t.toFixed(3)} s (${(bytes / t / 1e6).toFixed(1)} MB/s, ${(rows / t / 1e3).toFixed(1)} k rows/s), ` +
  `median CPU ${cpu.toFixed(3)} s (${(bytes / cpu / 1e6).toFixed(1)} MB/s, ${(rows / cpu / 1e3).toFixed(1)} k rows/s); rows ${rows}, text bytes ${bytes}`);
JS

echo "== moai column reader (1 thread)"
MOAI_PARQUET_BENCH_FILE=$work/text.parquet "$build/bench/parquet_read_bench" --benchmark_counters_tabular=true

echo "== moai data prepare (pretrain, qwen3 tokenizer, 2 threads): Parquet vs JSONL"
for input in text.parquet text.jsonl; do
  /usr/bin/time -f "$input: %e s wall, %U s user" "$build/moai" data prepare --mode pretrain \
    --dataset "$work/$input" --tokenizer_path "$assets/qwen3/tokenizer.json" \
    --output_dir "$work/prepared_${input%%.*}_${input##*.}" --num_threads 2 --force --quiet > /dev/null
done
