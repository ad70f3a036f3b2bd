# Top-level entry points. Each target installs missing Debian packages first (scripts/install-deps.sh is a
# fast no-op when everything is present), then configures and builds with CMake.
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test test-asan quickstart bench cuda format format-check tidy fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Every test: unit, golden and CLI end-to-end (Release build), then the unit tests again under ASan+UBSan
# (test suites whose name contains "Slow", and the CLI scripts, run only in the Release pass).
# Each half prints its wall time (build + tests) at the end.
test:
	@start=$$(date +%s); $(MAKE) --no-print-directory build && cd $(BUILD_DIR) && \
	  ctest --output-on-failure -j $(JOBS) && \
	  echo "make test: Release half (build + tests) took $$(( $$(date +%s) - start )) s"
	@start=$$(date +%s); $(MAKE) --no-print-directory test-asan && \
	  echo "make test: ASan+UBSan half (build + tests) took $$(( $$(date +%s) - start )) s"

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOAI_SANITIZE=ON \
	  -DMOAI_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	@cd $(ASAN_BUILD_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -LE cli -E 'Slow'

quickstart: build
	@scripts/quickstart.sh $(BUILD_DIR)/moai

bench: build
	@scripts/bench.sh $(BUILD_DIR)

# Compile the CUDA backend (no GPU needed to build it).
cuda: deps
	@cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DMOAI_CUDA=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-cuda -j $(JOBS)

FORMAT_FILES = find src tests bench -name '*.h' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh'
format:
	@$(FORMAT_FILES) | xargs clang-format -i

# Fails (listing the files) when any source differs from what `make format` would write.
format-check:
	@$(FORMAT_FILES) | xargs clang-format --dry-run -Werror

# clang-tidy with the small profile in .clang-tidy over src/, using the Release build's
# compile_commands.json (configured here; nothing is compiled). Fails on any finding.
tidy: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
	  $(CMAKE_FLAGS) >/dev/null
	@scripts/run-tidy.sh $(BUILD_DIR) $(JOBS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(FUZZ_BUILD_DIR) build-cuda

# libFuzzer targets for every parser of outside input (tests/fuzz/, docs/fuzzing.md): a clang build with
# ASan+UBSan in $(FUZZ_BUILD_DIR), then each target RUNS executions (or FUZZ_SECONDS seconds) from its
# committed corpus.
FUZZ_BUILD_DIR ?= build-fuzz
RUNS ?= 100000
FUZZ_TARGETS ?= safetensors qwen3_config records sft_record train_config openai_request gguf manifest \
  token_shard trainer_state tokenizer_json hub_api hub_card
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=None \
	  -DMOAI_FUZZ=ON -DMOAI_BUILD_TESTS=OFF -DMOAI_BUILD_BENCH=OFF -DMOAI_NATIVE=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) $(addprefix --target fuzz_,$(FUZZ_TARGETS))
	@scripts/run-fuzz.sh $(FUZZ_BUILD_DIR) $(RUNS) $(FUZZ_TARGETS)
