// Bounded JSON parsing; see json_limits.h. Nothing here recurses over the input.
#include "common/json_limits.h"

#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace sp {
namespace {

Status TooDeep(int max_depth) {
  return InvalidArgumentError("JSON nested deeper than " + std::to_string(max_depth) + " levels");
}

// Copies `s` with every byte that is not part of a well-formed UTF-8 sequence replaced by
// U+FFFD. nlohmann quotes the input it read last in its messages, and a message with broken
// UTF-8 would make the next json::dump() that carries it throw.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80           ? 1
                 : (b >> 5) == 0x6  ? 2
                 : (b >> 4) == 0xE  ? 3
                 : (b >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (ok && len > 1) {
      // Overlong forms, surrogates and code points above U+10FFFF are not UTF-8 either.
      auto b1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(b == 0xC0 || b == 0xC1 || (b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 > 0x9F) ||
             (b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 > 0x8F) || b > 0xF4);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

// nlohmann's what() starts with "[json.exception.parse_error.101] "; users need the rest.
std::string WithoutExceptionId(const char* what) {
  std::string s = what;
  if (!s.empty() && s[0] == '[') {
    size_t end = s.find("] ");
    if (end != std::string::npos) s.erase(0, end + 2);
  }
  return ValidUtf8(s);
}

}  // namespace

Status CheckJsonDepth(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          return InvalidArgumentError(TooDeep(max_depth).message() + " (at byte " +
                                      std::to_string(i) + ")");
        }
        break;
      case ']':
      case '}':
        // A stray closer is the parser's to report; it must not buy extra depth here.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return OkStatus();
}

Status CheckJsonValueDepth(const nlohmann::json& value, int max_depth) {
  std::vector<std::pair<const nlohmann::json*, int>> pending;
  pending.emplace_back(&value, 0);
  while (!pending.empty()) {
    auto [v, depth] = pending.back();
    pending.pop_back();
    if (!v->is_structured()) continue;
    if (depth + 1 > max_depth) return TooDeep(max_depth);
    for (const nlohmann::json& child : *v) {
      if (child.is_structured()) pending.emplace_back(&child, depth + 1);
    }
  }
  return OkStatus();
}

Result<nlohmann::json> ParseJsonBounded(std::string_view text, JsonLimits limits) {
  if (text.size() > limits.max_bytes) {
    return InvalidArgumentError("JSON text is " + std::to_string(text.size()) +
                                " bytes; the limit is " + std::to_string(limits.max_bytes));
  }
  RETURN_IF_ERROR(CheckJsonDepth(text, limits.max_depth));
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann counts the bytes read (1-based); offsets here count from 0, as in CheckJsonDepth.
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    return InvalidArgumentError("invalid JSON at byte " + std::to_string(offset) + ": " +
                                WithoutExceptionId(e.what()));
  } catch (const std::exception& e) {
    // Only allocation failure is left; the input is within the size limit, so it is not the
    // caller's fault.
    return InternalError(std::string("cannot parse JSON: ") + e.what());
  }
}

}  // namespace sp
