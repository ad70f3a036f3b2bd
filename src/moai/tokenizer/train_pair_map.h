#pragma once
// An open-addressing hash map from a packed symbol pair (uint64) to a signed count, for the BPE
// trainer's hot loop: std::unordered_map allocates a node per pair and chases pointers, this keeps
// keys and values in two flat arrays with linear probing. Entries are never erased (a count may
// drop to zero), which is what the trainer needs and keeps probing simple.
#include <cstdint>
#include <vector>

namespace moai::tok {

class PairCountMap {
 public:
  explicit PairCountMap(size_t expected = 1024) { rehash(capacity_for(expected)); }

  // The count slot for `key`, inserted as 0 if absent. Invalidated by the next insertion.
  int64_t& operator[](uint64_t key) {
    size_t slot = find_slot(key);
    if (keys_[slot] == kEmpty) {
      if ((size_ + 1) * 2 > keys_.size()) {
        rehash(keys_.size() * 2);
        slot = find_slot(key);
      }
      keys_[slot] = key;
      values_[slot] = 0;
      ++size_;
    }
    return values_[slot];
  }

  int64_t get(uint64_t key) const {
    const size_t slot = find_slot(key);
    return keys_[slot] == kEmpty ? 0 : values_[slot];
  }

  size_t size() const { return size_; }

  // Calls fn(key, count) for every entry, in no particular order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (size_t slot = 0; slot < keys_.size(); ++slot) {
      if (keys_[slot] != kEmpty) fn(keys_[slot], values_[slot]);
    }
  }

 private:
  // Pair (0xFFFFFFFF, 0xFFFFFFFF) cannot occur: ids stay far below 2^32 - 1.
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  static size_t capacity_for(size_t expected) {
    size_t capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    return capacity;
  }
  static uint64_t mix(
      uint64_t key) {  // splitmix64 finaliser: pairs of small ids spread over all bits
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    return key ^ (key >> 31);
  }
  size_t find_slot(uint64_t key) const {
    const size_t mask = keys_.size() - 1;
    size_t slot = mix(key) & mask;
    while (keys_[slot] != kEmpty && keys_[slot] != key) slot = (slot + 1) & mask;
    return slot;
  }
  void rehash(size_t capacity) {
    std::vector<uint64_t> old_keys(capacity, kEmpty);
    std::vector<int64_t> old_values(capacity, 0);
    old_keys.swap(keys_);
    old_values.swap(values_);
    for (size_t slot = 0; slot < old_keys.size(); ++slot) {
      if (old_keys[slot] == kEmpty) continue;
      const size_t target = find_slot(old_keys[slot]);
      keys_[target] = old_keys[slot];
      values_[target] = old_values[slot];
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<int64_t> values_;
  size_t size_ = 0;
};

}  // namespace moai::tok
