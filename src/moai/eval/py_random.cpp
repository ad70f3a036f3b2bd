#include "moai/eval/py_random.h"

#include <cmath>
#include <string>
#include <unordered_set>

#include "moai/core/error.h"

namespace moai::eval {

void PyRandom::init_genrand(uint32_t s) {
  mt_[0] = s;
  for (int i = 1; i < 624; ++i)
    mt_[size_t(i)] = 1812433253U * (mt_[size_t(i - 1)] ^ (mt_[size_t(i - 1)] >> 30)) + uint32_t(i);
  index_ = 624;
}

PyRandom::PyRandom(uint64_t seed) {
  // random_seed(): the absolute value as little-endian 32-bit words (at least one), then
  // init_by_array.
  std::vector<uint32_t> key;
  do {
    key.push_back(uint32_t(seed & 0xFFFFFFFFu));
    seed >>= 32;
  } while (seed != 0);
  init_genrand(19650218U);
  size_t i = 1, j = 0;
  const size_t n = 624, len = key.size();
  for (size_t k = std::max(n, len); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) + key[j] + uint32_t(j);
    ++i;
    ++j;
    if (i >= n) {
      mt_[0] = mt_[n - 1];
      i = 1;
    }
    if (j >= len) j = 0;
  }
  for (size_t k = n - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) - uint32_t(i);
    ++i;
    if (i >= n) {
      mt_[0] = mt_[n - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000U;
  index_ = 624;
}

uint32_t PyRandom::genrand_uint32() {
  constexpr uint32_t kUpper = 0x80000000U, kLower = 0x7fffffffU, kMatrixA = 0x9908b0dfU;
  if (index_ >= 624) {
    for (int kk = 0; kk < 624; ++kk) {
      const uint32_t y = (mt_[size_t(kk)] & kUpper) | (mt_[size_t((kk + 1) % 624)] & kLower);
      mt_[size_t(kk)] = mt_[size_t((kk + 397) % 624)] ^ (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
    }
    index_ = 0;
  }
  uint32_t y = mt_[size_t(index_++)];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= (y >> 18);
  return y;
}

uint64_t PyRandom::getrandbits(int k) {
  if (k <= 0 || k > 64) throw_internal_error(__FILE__, __LINE__, "getrandbits: k out of range");
  if (k <= 32) return genrand_uint32() >> (32 - k);
  // Words fill from the least significant end; the last word keeps its top bits.
  const uint64_t low = genrand_uint32();
  const uint64_t high = genrand_uint32() >> (64 - k);
  return low | (high << 32);
}

uint64_t PyRandom::randbelow(uint64_t n) {
  if (n == 0) return 0;
  int k = 0;
  for (uint64_t v = n; v != 0; v >>= 1) ++k;  // n.bit_length()
  uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

std::vector<size_t> PyRandom::sample(size_t n, size_t k) {
  if (k > n)
    throw_input_error("few-shot sampler", "cannot draw " + std::to_string(k) + " from " +
                                              std::to_string(n) + " documents");
  std::vector<size_t> result(k);
  size_t setsize = 21;  // size of a small set minus size of an empty list
  if (k > 5) {
    // 4 ** ceil(log(k * 3, 4)), with Python's float log
    const double e = std::ceil(std::log(double(k) * 3.0) / std::log(4.0));
    setsize += size_t(std::llround(std::pow(4.0, e)));
  }
  if (n <= setsize) {
    std::vector<size_t> pool(n);
    for (size_t i = 0; i < n; ++i) pool[i] = i;
    for (size_t i = 0; i < k; ++i) {
      const size_t j = size_t(randbelow(n - i));
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];
    }
  } else {
    std::unordered_set<size_t> selected;
    for (size_t i = 0; i < k; ++i) {
      size_t j = size_t(randbelow(n));
      while (selected.count(j)) j = size_t(randbelow(n));
      selected.insert(j);
      result[i] = j;
    }
  }
  return result;
}

}  // namespace moai::eval
