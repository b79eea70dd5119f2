// A YAML document tree of our own, read with libfyaml: every YAML user in the project (DAG
// files, the CLI's config, kubeconfigs, deploy overlays) walks this tree, so none of them sees
// the parser library, and the library stays private to yaml_document.cc.
//
// The tree keeps what callers need to type values and to point at them:
// - a node's kind (null, scalar, sequence, mapping); a plain scalar `~`, `null`, `Null`, `NULL`
//   or an empty value without a tag is null, as in the YAML 1.2 core schema;
// - a scalar's text and style (plain or quoted/block), so `yes`, `1` and `null` can be typed by
//   the caller the way it needs, while `"1"` stays a string;
// - the tag, resolved (`!!int` -> "tag:yaml.org,2002:int"; "" when there is none);
// - the 1-based line and column where the node starts (its anchor or tag, if it has one);
// - a mapping's entries in file order, duplicates included (callers report those, with both
//   places), and a sequence's items.
// An alias is the anchored node itself (no copy), so a node can be reached from several
// places; an alias inside the node of its own anchor (`&a [*a]`) makes a cycle. Code that walks
// values recursively must guard against both (see dag/internal/yaml_json.cc). Merge keys (`<<`)
// are ordinary keys. Nesting as written is limited to kMaxYamlDepth levels; a walk that follows
// aliases can go deeper (an anchor nested 200 levels holding an alias to another such one), so
// recursive walkers bound their own depth by kMaxYamlDepth too.
//
// Syntax errors come back located, with libfyaml's message. Text that is not UTF-8 or holds a
// NUL byte is refused up front: libfyaml 0.7 stops reading there without an error.
//
// Ownership and thread safety: a YamlDocument owns its nodes; a YamlNode is a small handle that
// is valid while its document lives (moving the document keeps handles valid). Parsing is a
// free-standing function; documents are immutable and may be read from several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/status.h"

namespace sp {

// Deeper nesting is a syntax error; no hand-written configuration comes close.
inline constexpr int kMaxYamlDepth = 256;

// 1-based; 0 when unknown.
struct YamlMark {
  int line = 0;
  int column = 0;
};

enum class YamlKind { kNull, kScalar, kSequence, kMapping };

enum class YamlScalarStyle { kPlain, kSingleQuoted, kDoubleQuoted, kLiteral, kFolded };

struct YamlSyntaxError {
  YamlMark mark;
  std::string message;  // the parser's words, e.g. "flow sequence without a closing bracket"
};

class YamlDocument;
struct YamlEntry;
template <typename T>
class YamlRange;

class YamlNode {
 public:
  // An absent node: what Find() answers for a missing key.
  YamlNode() = default;

  bool present() const { return doc_ != nullptr; }
  explicit operator bool() const { return present(); }

  YamlKind kind() const;  // kNull for an absent node
  bool IsNull() const { return present() && kind() == YamlKind::kNull; }
  bool IsScalar() const { return present() && kind() == YamlKind::kScalar; }
  bool IsSequence() const { return present() && kind() == YamlKind::kSequence; }
  bool IsMapping() const { return present() && kind() == YamlKind::kMapping; }

  // A scalar's text ("" for other kinds); a null node's as written ("~", "null" or "").
  const std::string& scalar() const;
  YamlScalarStyle style() const;
  bool plain() const { return style() == YamlScalarStyle::kPlain; }
  const std::string& tag() const;
  YamlMark mark() const;

  // A sequence's items or a mapping's entries; 0 for other kinds.
  size_t size() const;
  YamlNode item(size_t i) const;   // i < size() of a sequence
  YamlNode key(size_t i) const;    // i < size() of a mapping
  YamlNode value(size_t i) const;  // i < size() of a mapping
  // The value of the first entry whose key is the scalar `key`; absent if none (or not a
  // mapping).
  YamlNode Find(std::string_view key) const;

  // Whether both handles name the same node (an alias and its anchor do).
  bool SameAs(const YamlNode& other) const { return doc_ == other.doc_ && index_ == other.index_; }

  // `for (YamlNode item : node.items())`, `for (auto [key, value] : node.entries())`; empty
  // for other kinds.
  YamlRange<YamlNode> items() const;
  YamlRange<YamlEntry> entries() const;

  // A document's storage; defined in yaml_document.cc, opaque to everyone else.
  struct Data;

 private:
  friend class YamlDocument;
  YamlNode(const Data* doc, uint32_t index) : doc_(doc), index_(index) {}

  const Data* doc_ = nullptr;
  uint32_t index_ = 0;
};

struct YamlEntry {
  YamlNode key;
  YamlNode value;
};

// The items (T = YamlNode) or entries (T = YamlEntry) of a node.
template <typename T>
class YamlRange {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = T;
    iterator() = default;
    iterator(YamlNode node, size_t i) : node_(node), i_(i) {}
    T operator*() const {
      if constexpr (std::is_same_v<T, YamlEntry>) {
        return YamlEntry{node_.key(i_), node_.value(i_)};
      } else {
        return node_.item(i_);
      }
    }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    YamlNode node_;
    size_t i_ = 0;
  };

  YamlRange(YamlNode node, size_t size) : node_(node), size_(size) {}
  iterator begin() const { return iterator(node_, 0); }
  iterator end() const { return iterator(node_, size_); }
  size_t size() const { return size_; }

 private:
  YamlNode node_;
  size_t size_;
};

inline YamlRange<YamlNode> YamlNode::items() const {
  return YamlRange<YamlNode>(*this, IsSequence() ? size() : 0);
}
inline YamlRange<YamlEntry> YamlNode::entries() const {
  return YamlRange<YamlEntry>(*this, IsMapping() ? size() : 0);
}

class YamlDocument {
 public:
  // Every document of a YAML stream ("---" separates them). nullopt and `*error` on a syntax
  // error.
  static std::optional<YamlDocument> Parse(std::string_view text, YamlSyntaxError* error);
  // The same; a syntax error is InvalidArgument "FILE:LINE:COLUMN: YAML syntax error: ...".
  static Result<YamlDocument> Parse(std::string_view text, const std::string& file);

  YamlDocument(YamlDocument&&) noexcept;
  YamlDocument& operator=(YamlDocument&&) noexcept;
  ~YamlDocument();

  // The number of documents in the stream (0 for empty text or only comments).
  size_t size() const;
  // The root of document `i`; absent when there is no such document.
  YamlNode root(size_t i = 0) const;

 private:
  YamlDocument();
  std::unique_ptr<YamlNode::Data> data_;
};

// "FILE:LINE:COLUMN" (parts that are unknown are left out).
std::string YamlLocation(const std::string& file, YamlMark mark);

// A YAML 1.1 boolean, as Airflow users and kubeconfigs write them: true/yes/on or false/no/off
// in any case, and y/n too when `accept_y` (kubeconfigs); nullopt for anything else.
std::optional<bool> YamlBool(std::string_view text, bool accept_y = false);

}  // namespace sp
