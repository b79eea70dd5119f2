// Type-checked field access on nlohmann::json objects that never throws: Spark's JSON (master
// /json/, event logs) is external input, and nlohmann's value()/get() throw on type mismatch.
// A missing or mistyped field yields the fallback. Private to spark/.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace sp::spark::internal {

// The member `key` of `j` when `j` is an object that has it, else nullptr.
inline const nlohmann::json* Field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

inline std::string GetString(const nlohmann::json& j, const char* key,
                             const std::string& fallback = "") {
  const nlohmann::json* f = Field(j, key);
  return f != nullptr && f->is_string() ? f->get_ref<const std::string&>() : fallback;
}

inline int64_t GetInt(const nlohmann::json& j, const char* key, int64_t fallback = 0) {
  const nlohmann::json* f = Field(j, key);
  if (f == nullptr) return fallback;
  if (f->is_number_integer()) return f->get<int64_t>();
  if (f->is_number_float()) {
    // A double beyond int64's range (or NaN) has no integer value: the fallback.
    double d = f->get<double>();
    if (!(d >= -9.2e18 && d <= 9.2e18)) return fallback;
    return static_cast<int64_t>(d);
  }
  return fallback;
}

// `*total += amount` for counters of bytes and records: negative amounts (never real) are
// ignored and the sum saturates at int64's maximum instead of overflowing.
inline void AddCount(int64_t* total, int64_t amount) {
  if (amount <= 0) return;
  *total = amount > INT64_MAX - *total ? INT64_MAX : *total + amount;
}

inline bool Has(const nlohmann::json& j, const char* key) {
  return Field(j, key) != nullptr;
}

// The member `key` when it is an object, else an empty object.
inline const nlohmann::json& GetObject(const nlohmann::json& j, const char* key) {
  static const nlohmann::json* const kEmpty = new nlohmann::json(nlohmann::json::object());
  const nlohmann::json* f = Field(j, key);
  return f != nullptr && f->is_object() ? *f : *kEmpty;
}

}  // namespace sp::spark::internal
