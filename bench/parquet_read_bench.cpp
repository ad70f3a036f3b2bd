// Reading the text column of a Parquet file: moai's column reader (the page decoding alone) and its
// row reader (rows as the JSON records data prepare consumes). bench/parquet_read.sh makes the file
// with DuckDB and times DuckDB on it; run alone:
//   MOAI_PARQUET_BENCH_FILE=/tmp/x.parquet [MOAI_PARQUET_BENCH_COLUMN=text]
//   build/bench/parquet_read_bench
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "moai/data/parquet_reader.h"
#include "moai/ops/blas_kernels.h"

namespace {

using moai::data::parquet::ColumnReader;
using moai::data::parquet::LevelEntry;
using moai::data::parquet::ParquetFile;
using moai::data::parquet::RowReader;

std::string env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

int find_leaf(const ParquetFile& file, const std::string& column) {
  for (size_t i = 0; i < file.leaves().size(); ++i) {
    if (file.leaves()[i].dotted_path == column) return static_cast<int>(i);
  }
  return -1;
}

void BM_ParquetTextColumn(benchmark::State& state) {
  std::string path = env("MOAI_PARQUET_BENCH_FILE", "");
  if (path.empty()) return state.SkipWithError("set MOAI_PARQUET_BENCH_FILE");
  uint64_t rows = 0, bytes = 0;
  for (auto _ : state) {
    auto file = ParquetFile::open(path);
    int leaf = find_leaf(*file, env("MOAI_PARQUET_BENCH_COLUMN", "text"));
    if (leaf < 0) return state.SkipWithError("no such column");
    for (size_t g = 0; g < file->metadata().row_groups.size(); ++g) {
      ColumnReader column(*file, static_cast<int>(g), leaf);
      LevelEntry entry;
      while (column.next(entry)) {
        if (entry.def == column.leaf().max_def) bytes += column.string_at(entry.value).size();
        ++rows;
      }
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ParquetTextColumn)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_ParquetTextRowsAsJson(benchmark::State& state) {
  std::string path = env("MOAI_PARQUET_BENCH_FILE", "");
  if (path.empty()) return state.SkipWithError("set MOAI_PARQUET_BENCH_FILE");
  uint64_t rows = 0, bytes = 0;
  for (auto _ : state) {
    auto file = ParquetFile::open(path);
    RowReader reader(file, file->leaves_of({env("MOAI_PARQUET_BENCH_COLUMN", "text")}));
    nlohmann::ordered_json row;
    std::string json;
    while (reader.next(row)) {
      json = row.dump();
      bytes += json.size();
      ++rows;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ParquetTextRowsAsJson)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

// BENCHMARK_MAIN, with the BLAS kernel check first (moai/ops/blas_kernels.h).
int main(int argc, char** argv) {
  moai::ops::match_blas_kernels(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
