#pragma once
// Python's random.Random, the part the harness's few-shot sampler uses: seeding from an int
// (init_by_array over the seed's 32-bit words), getrandbits, _randbelow (rejection sampling on
// bit_length bits) and sample() (its two algorithms: a shrinking pool when the population is small
// compared with k, a set of picked indices otherwise). Same MT19937 core as std::mt19937; the
// seeding and sampling are CPython 3.x's (Lib/random.py, Modules/_randommodule.c).
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace moai::eval {

class PyRandom {
 public:
  explicit PyRandom(uint64_t seed);
  uint32_t genrand_uint32();
  uint64_t getrandbits(int k);  // 0 < k <= 64
  uint64_t randbelow(uint64_t n);
  // Indices into a population of n picked by random.sample(population, k), in order.
  std::vector<size_t> sample(size_t n, size_t k);

 private:
  void init_genrand(uint32_t s);
  std::array<uint32_t, 624> mt_{};
  int index_ = 625;
};

}  // namespace moai::eval
