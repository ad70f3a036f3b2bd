#!/usr/bin/env bash
# "Never a fallback kernel by accident": on a CPU with AVX-512 (or AVX2) the moai binary must run
# matmul kernels for it. Debian's OpenBLAS 0.3.21 picks its generic Prescott kernels on recent Xeons;
# moai re-executes itself with OPENBLAS_CORETYPE set. Fails when the engine line shows a pre-AVX2 core.
set -euo pipefail
MOAI_BIN=${MOAI_BIN:-build/moai}
SRC=${MOAI_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
unset OPENBLAS_CORETYPE
line=$("$MOAI_BIN" bench train --config "$SRC/configs/tiny.json" --batch 1 --seq 8 --steps 1 \
  --warmup 0 --threads 1 --device cpu 2>/dev/null | grep '^backend')
echo "$line"
if grep -q avx512f /proc/cpuinfo || grep -q avx2 /proc/cpuinfo; then
  if [[ $line == *openblas* ]] &&
     ! grep -Eqi 'openblas (haswell|zen|skylakex|cooperlake|sapphirerapids)' <<< "$line"; then
    echo "FAIL: the CPU has AVX2/AVX-512 but OpenBLAS runs pre-AVX2 kernels: $line"; exit 1
  fi
fi
# A core type set by the environment is kept (and warned about), never overridden.
line=$(OPENBLAS_CORETYPE=PRESCOTT "$MOAI_BIN" bench train --config "$SRC/configs/tiny.json" \
  --batch 1 --seq 8 --steps 1 --warmup 0 --threads 1 --device cpu 2>/dev/null | grep '^backend')
[[ $line != *openblas* || $line == *Prescott* ]] || { echo "FAIL: OPENBLAS_CORETYPE overridden: $line"; exit 1; }
echo "OK: $line"
