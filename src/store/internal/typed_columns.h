// TypedColumns<Statement>: the typed binds and reads both SQL statements (store/sqlite and
// store/postgres) build on their own BindInt64/BindText/BindNull/IsNull/ColumnInt64/ColumnText:
// times as unix milliseconds, optional values as SQL NULL, JSON as its compact text (JSON null
// as SQL NULL; invalid UTF-8 replaced, so dump() never throws). Mixed in with CRTP, so the calls
// are direct.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace sp::store::internal {

template <typename Statement>
class TypedColumns {
 public:
  void BindTime(int index, Time value) { self().BindInt64(index, ToUnixMillis(value)); }
  void BindOptionalTime(int index, const std::optional<Time>& value) {
    if (value) {
      BindTime(index, *value);
    } else {
      self().BindNull(index);
    }
  }
  void BindOptionalInt(int index, const std::optional<int>& value) {
    if (value) {
      self().BindInt64(index, *value);
    } else {
      self().BindNull(index);
    }
  }
  void BindJson(int index, const nlohmann::json& value) {
    if (value.is_null()) {
      self().BindNull(index);
      return;
    }
    self().BindText(index, value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  Time ColumnTime(int column) const { return FromUnixMillis(self().ColumnInt64(column)); }
  std::optional<Time> ColumnOptionalTime(int column) const {
    if (self().IsNull(column)) return std::nullopt;
    return ColumnTime(column);
  }
  std::optional<int> ColumnOptionalInt(int column) const {
    if (self().IsNull(column)) return std::nullopt;
    return static_cast<int>(self().ColumnInt64(column));
  }
  // SQL NULL reads as JSON null; text that does not parse is an Internal error naming the column.
  Result<nlohmann::json> ColumnJson(int column) const {
    if (self().IsNull(column)) return nlohmann::json(nullptr);
    std::string text = self().ColumnText(column);
    nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      return InternalError("column '" + self().ColumnName(column) +
                           "' holds text that is not JSON: '" + text.substr(0, 80) + "'");
    }
    return value;
  }

 private:
  Statement& self() { return static_cast<Statement&>(*this); }
  const Statement& self() const { return static_cast<const Statement&>(*this); }
};

}  // namespace sp::store::internal
