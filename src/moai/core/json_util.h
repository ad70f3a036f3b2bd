#pragma once
// Integer fields of JSON files moai reads back (manifests, trainer state, checkpoint markers).
// nlohmann's get<int64_t>() casts a floating-point value unchecked, which is undefined behaviour
// out of range (found by fuzzing: {"step": 2.2e27}); these accept only JSON integers that fit.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

#include "moai/core/error.h"

namespace moai {

// object[key] as T. Missing key: nlohmann's out_of_range (callers report it as malformed); not an
// integer, or outside T's range: InputError "where: key: expected ...".
template <typename T>
T json_integer(const nlohmann::json& object, const char* key, const std::string& where) {
  static_assert(std::is_integral_v<T>);
  const nlohmann::json& value = object.at(key);
  const bool fits =
      value.is_number_unsigned()
          ? value.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
          : value.is_number_integer() && (std::is_signed_v<T> || value.get<int64_t>() >= 0);
  if (!fits)
    throw_input_error(where, std::string(key) + ": " + value.dump() + ", expected an integer" +
                                 (std::is_signed_v<T> ? "" : " >= 0") + " that fits");
  return value.get<T>();
}

// As json_integer, `fallback` when the key is absent.
template <typename T>
T json_integer_or(const nlohmann::json& object, const char* key, const std::string& where,
                  T fallback) {
  return object.contains(key) ? json_integer<T>(object, key, where) : fallback;
}

}  // namespace moai
