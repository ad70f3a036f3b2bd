// Writes the Parquet fixtures of tests/data/parquet_test.cpp with two independent writers and records
// the rows DuckDB reads back from each file (NAME.expected.jsonl, one JSON object per row, as DuckDB's
// to_json prints it). DuckDB (@duckdb/node-api) writes every codec, pages v1 and v2 (its V2 format
// uses DELTA_* and BYTE_STREAM_SPLIT), dictionaries, nulls, nested lists/structs and several row
// groups; parquet-wasm (the Rust arrow-rs writer) writes the encodings chosen per column.
//
// Usage: node tests/data/parquet/make_fixtures.mjs OUT_DIR   (peers from tests/peers/install.sh)
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../peers/package.json'));
const duckdb = require('@duckdb/node-api');
const arrow = require('apache-arrow');
const pw = require('parquet-wasm/node');

const out = path.resolve(process.argv[2] || here);
fs.mkdirSync(out, { recursive: true });

// Deterministic rows: a small LCG, words in English, Korean and emoji, some nulls and empty strings.
let seed = 12345;
const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return (seed >>> 8) % n; };
const words = ['the', 'model', 'reads', 'parquet', '데이터', '모아이', '학습', 'tokens', 'é', '🙂', 'row', 'group'];
const sentence = (n) => Array.from({ length: n }, () => words[rand(words.length)]).join(' ');
const ROWS = 120;
const rows = [];
for (let i = 0; i < ROWS; i++) {
  const turns = rand(4);
  rows.push({
    id: i * 7919 - 500,
    text: i % 17 === 3 ? null : i % 23 === 5 ? '' : sentence(3 + rand(9)),
    label: ['pos', 'neg', 'neutral'][rand(3)],
    score: i % 13 === 0 ? null : (rand(100000) - 50000) / 64,
    small: rand(1000) - 500,
    flag: i % 11 === 0 ? null : rand(2) === 1,
    tags: i % 9 === 0 ? null : Array.from({ length: rand(4) }, () => (rand(7) === 0 ? null : words[rand(words.length)])),
    messages: i % 19 === 7 ? null : Array.from({ length: turns }, (_, t) => ({ role: t % 2 ? 'assistant' : 'user', content: sentence(1 + rand(6)) })),
    meta: i % 7 === 0 ? null : { source: i % 5 === 0 ? null : 'src' + rand(5), rank: rand(50) },
  });
}

const sqlString = (s) => "'" + s.replace(/'/g, "''") + "'";
const sqlValue = (v) => {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string') return sqlString(v);
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return '[' + v.map(sqlValue).join(', ') + ']';
  return '{' + Object.entries(v).map(([k, x]) => sqlString(k) + ': ' + sqlValue(x)).join(', ') + '}';
};

const instance = await duckdb.DuckDBInstance.create(':memory:');
const db = await instance.connect();
await db.run(`CREATE TABLE t (id BIGINT, text VARCHAR, label VARCHAR, score DOUBLE, small INTEGER, flag BOOLEAN,
  tags VARCHAR[], messages STRUCT(role VARCHAR, content VARCHAR)[], meta STRUCT(source VARCHAR, rank INTEGER))`);
for (let i = 0; i < rows.length; i += 60) {
  const values = rows.slice(i, i + 60).map((r) => '(' + Object.values(r).map(sqlValue).join(', ') + ')');
  await db.run('INSERT INTO t VALUES ' + values.join(', '));
}
await db.run('ALTER TABLE t ADD COLUMN ratio FLOAT');
await db.run('UPDATE t SET ratio = CASE WHEN id % 3 = 0 THEN NULL ELSE (id % 1000) / 8.0 END');
// A list of lists: null, empty, empty and null inner lists, null elements.
await db.run('ALTER TABLE t ADD COLUMN grid INTEGER[][]');
await db.run(`UPDATE t SET grid = CASE WHEN id % 5 = 0 THEN NULL WHEN id % 5 = 1 THEN []
  WHEN id % 5 = 2 THEN [[]] ELSE [[id % 7, NULL], NULL, [], [id % 11]] END`);

// The rows as DuckDB reads the file back (FLOAT widened to DOUBLE exactly, so JSON keeps every bit).
// Files written from the same table share one expected file (GROUP.expected.jsonl); every file of
// the group must read back identically, or the script fails.
const groups = {};
async function expected(file, group) {
  const schema = await db.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${sqlString(file)}))`);
  const floats = schema.getRows().filter((r) => r[1] === 'FLOAT').map((r) => r[0]);
  let sql = `SELECT * FROM read_parquet(${sqlString(file)})`;
  if (floats.length) sql = `SELECT * REPLACE (${floats.map((c) => `CAST(${c} AS DOUBLE) AS ${c}`).join(', ')}) FROM read_parquet(${sqlString(file)})`;
  const widened = await db.runAndReadAll(`SELECT to_json(x)::VARCHAR FROM (${sql}) x`);
  const text = widened.getRows().map((r) => r[0] + '\n').join('');
  if (groups[group] === undefined) {
    groups[group] = text;
    fs.writeFileSync(path.join(out, group + '.expected.jsonl'), text);
  } else if (groups[group] !== text) {
    throw new Error(`${file} reads back differently from the other files of group ${group}`);
  }
}

// DuckDB files: every codec with v1 pages, and V2 (DELTA_*, BYTE_STREAM_SPLIT, v2 pages).
const duck = [
  ['duckdb_snappy', 'snappy', 'V1', 64],
  ['duckdb_gzip', 'gzip', 'V1', 100],
  ['duckdb_zstd', 'zstd', 'V1', 100],
  ['duckdb_brotli', 'brotli', 'V1', 100],
  ['duckdb_lz4_raw', 'lz4_raw', 'V1', 100],
  ['duckdb_v2_zstd', 'zstd', 'V2', 80],
  ['duckdb_v2_snappy', 'snappy', 'V2', 120],
];
for (const [name, codec, version, groupRows] of duck) {
  const file = path.join(out, name + '.parquet');
  await db.run(`COPY (SELECT * FROM t ORDER BY id) TO ${sqlString(file)}
    (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE ${groupRows}, PARQUET_VERSION ${version})`);
  await expected(file, 'rows');
}
// A chat file with only `messages` (SFT format detection), and a plain text file for pretraining.
await db.run(`COPY (SELECT messages FROM t WHERE messages IS NOT NULL AND len(messages) >= 2 ORDER BY id)
  TO ${sqlString(path.join(out, 'chat.parquet'))} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 50)`);
await expected(path.join(out, 'chat.parquet'), 'chat');

// parquet-wasm files: flat columns with explicit encodings, page versions and codecs.
const flat = rows.map((r) => ({ id: r.id, small: r.small, text: r.text, label: r.label, score: r.score }));
const table = arrow.tableFromArrays({
  id: BigInt64Array.from(flat.map((r) => BigInt(r.id))),
  small: Int32Array.from(flat.map((r) => r.small)),
  text: arrow.vectorFromArray(flat.map((r) => r.text), new arrow.Utf8()),
  label: arrow.vectorFromArray(flat.map((r) => r.label), new arrow.Utf8()),
  score: arrow.vectorFromArray(flat.map((r) => r.score), new arrow.Float64()),
  ratio: arrow.vectorFromArray(flat.map((r) => (r.id % 3 === 0 ? null : (r.id % 1000) / 8)), new arrow.Float32()),
});
const E = pw.Encoding, C = pw.Compression;
const wasm = [
  ['arrow_delta_v2', C.UNCOMPRESSED, 1, { id: E.DELTA_BINARY_PACKED, small: E.DELTA_BINARY_PACKED, text: E.DELTA_LENGTH_BYTE_ARRAY, label: E.DELTA_BYTE_ARRAY }],
  ['arrow_delta_v1_zstd', C.ZSTD, 0, { id: E.DELTA_BINARY_PACKED, text: E.DELTA_BYTE_ARRAY, label: E.DELTA_LENGTH_BYTE_ARRAY }],
  ['arrow_split_brotli', C.BROTLI, 1, { score: E.BYTE_STREAM_SPLIT, ratio: E.BYTE_STREAM_SPLIT }],
  ['arrow_dict_lz4_raw', C.LZ4_RAW, 0, null],
  ['arrow_dict_lz4', C.LZ4, 1, null],
  ['arrow_plain_gzip', C.GZIP, 1, {}],
  ['arrow_snappy_pages', C.SNAPPY, 0, null],
];
for (const [name, codec, version, encodings] of wasm) {
  let builder = new pw.WriterPropertiesBuilder().setCompression(codec).setWriterVersion(version)
    .setMaxRowGroupSize(90).setDataPageSizeLimit(512).setWriteBatchSize(32);
  if (encodings) {
    builder = builder.setDictionaryEnabled(false);
    for (const [col, enc] of Object.entries(encodings)) builder = builder.setColumnEncoding(col, enc);
  }
  const bytes = pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), builder.build());
  const file = path.join(out, name + '.parquet');
  fs.writeFileSync(file, bytes);
  if (codec === C.LZ4) {
    // DuckDB does not read the legacy LZ4 codec: arrow-rs reads it back and rewrites it uncompressed
    // for DuckDB to compare.
    const copy = path.join(out, name + '.check.parquet');
    fs.writeFileSync(copy, pw.writeParquet(pw.readParquet(bytes), new pw.WriterPropertiesBuilder().build()));
    await expected(copy, 'flat');
    fs.unlinkSync(copy);
  } else {
    await expected(file, 'flat');
  }
}
// The encodings and codecs each file really holds, as DuckDB's parquet_metadata lists them.
const meta = await db.runAndReadAll(`SELECT file_name, list(DISTINCT compression ORDER BY compression)::VARCHAR,
  list(DISTINCT encodings ORDER BY encodings)::VARCHAR, count(DISTINCT row_group_id)
  FROM parquet_metadata(${sqlString(path.join(out, '*.parquet'))}) GROUP BY file_name ORDER BY file_name`);
for (const r of meta.getRows()) console.log(path.basename(String(r[0])), r[1], r[2], 'row groups:', String(r[3]));
