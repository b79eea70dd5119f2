// The YAML document tree, built from libfyaml's event stream; see yaml_document.h.
//
// Events rather than libfyaml's own document API: the tree keeps exactly what callers need
// (marks, styles, entries in order, duplicates), aliases point at their anchored node as they
// did with yaml-cpp, and one pass over the events builds it into two flat arrays.
#include "common/yaml_document.h"

#include <libfyaml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sp {

struct YamlNode::Data {
  struct Node {
    YamlKind kind = YamlKind::kNull;
    YamlScalarStyle style = YamlScalarStyle::kPlain;
    YamlMark mark;
    uint32_t first = 0;  // into `children`: items, or key/value pairs
    uint32_t count = 0;  // items or entries
    std::string text;
    std::string tag;
  };
  std::vector<Node> nodes;
  std::vector<uint32_t> children;
  std::vector<uint32_t> roots;
};

namespace {

const std::string& EmptyString() {
  static const std::string kEmpty;
  return kEmpty;
}

YamlMark ToMark(const fy_mark& m) {
  return YamlMark{m.line + 1, m.column + 1};
}

// The line and column (in characters) of byte `offset`.
YamlMark MarkAt(std::string_view text, size_t offset) {
  YamlMark mark{1, 1};
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++mark.line;
      mark.column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++mark.column;
    }
  }
  return mark;
}

// libfyaml 0.7.12 ends the stream without an error at some bytes it cannot read (a NUL, or
// bytes that are not UTF-8 at the start of a scalar) and drops C0 control characters from
// scalars: everything after would be lost or changed silently. YAML text is printable
// Unicode, so such bytes are refused here, with their place.
std::optional<YamlSyntaxError> FindUnreadableByte(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", c);
        return YamlSyntaxError{MarkAt(text, i), std::string("control character ") + hex +
                                                    " is not allowed in YAML text"};
      }
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    }
    bool valid = len != 0 && i + len <= n;
    for (size_t k = 1; valid && k < len; ++k) {
      valid = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF.
    if (valid) {
      valid = !(len == 3 && cp < 0x800) && !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) &&
              !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (!valid) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      return YamlSyntaxError{MarkAt(text, i),
                             std::string("byte ") + hex + " is not UTF-8; YAML text must be UTF-8"};
    }
    i += len;
  }
  return std::nullopt;
}

struct ParserDeleter {
  void operator()(fy_parser* p) const { fy_parser_destroy(p); }
};
struct DiagDeleter {
  void operator()(fy_diag* d) const { fy_diag_destroy(d); }
};

// One parse: events in, nodes out.
class TreeBuilder {
 public:
  TreeBuilder(YamlNode::Data* data, std::string_view text) : data_(data), text_(text) {}

  std::optional<YamlSyntaxError> Run() {
    fy_diag_cfg diag_cfg;
    fy_diag_cfg_default(&diag_cfg);
    diag_cfg.fp = nullptr;  // collected below, never printed
    diag_cfg.output_fn = nullptr;
    diag_cfg.level = FYET_ERROR;
    std::unique_ptr<fy_diag, DiagDeleter> diag(fy_diag_create(&diag_cfg));
    if (!diag) return YamlSyntaxError{{}, "cannot start the YAML parser"};
    fy_diag_set_collect_errors(diag.get(), true);

    fy_parse_cfg cfg{};
    cfg.flags = static_cast<fy_parse_cfg_flags>(FYPCF_QUIET | FYPCF_DEFAULT_VERSION_AUTO);
    cfg.diag = diag.get();
    std::unique_ptr<fy_parser, ParserDeleter> parser(fy_parser_create(&cfg));
    if (!parser || fy_parser_set_string(parser.get(), text_.data(), text_.size()) != 0) {
      return YamlSyntaxError{{}, "cannot start the YAML parser"};
    }
    fy_parser* p = parser.get();
    while (fy_event* event = fy_parser_parse(p)) {
      std::optional<YamlSyntaxError> error = Handle(event);
      if (const fy_mark* end = fy_event_end_mark(event)) last_end_ = *end;
      fy_parser_event_free(p, event);
      if (error) return error;
    }
    if (fy_parser_get_stream_error(p)) {
      void* it = nullptr;
      while (fy_diag_error* e = fy_diag_errors_iterate(diag.get(), &it)) {
        if (e->type < FYET_ERROR) continue;
        // The collected line and column are 1-based already.
        return YamlSyntaxError{YamlMark{e->line, e->column}, e->msg != nullptr ? e->msg : ""};
      }
      return YamlSyntaxError{ToMark(last_end_), "the text does not parse as YAML"};
    }
    return std::nullopt;
  }

 private:
  struct Open {
    uint32_t node;
    size_t first_pending;  // its children so far are pending_[first_pending..]
  };

  std::optional<YamlSyntaxError> Handle(fy_event* e) {
    switch (e->type) {
      case FYET_DOCUMENT_START:
        anchors_.clear();
        root_.reset();
        return std::nullopt;
      case FYET_DOCUMENT_END:
        data_->roots.push_back(root_ ? *root_ : NewNode(YamlKind::kNull, ToMark(last_end_)));
        return std::nullopt;
      case FYET_SCALAR:
        return Scalar(e->scalar);
      case FYET_ALIAS: {
        std::string name = Text(e->alias.anchor);
        auto it = anchors_.find(name);
        if (it == anchors_.end()) {
          return YamlSyntaxError{MarkOf(e->alias.anchor, nullptr, nullptr),
                                 "unknown anchor '" + name + "' (an alias *" + name +
                                     " must come after its &" + name + ")"};
        }
        Add(it->second);
        return std::nullopt;
      }
      case FYET_SEQUENCE_START:
        return Start(YamlKind::kSequence, e->sequence_start.anchor, e->sequence_start.tag,
                     e->sequence_start.sequence_start);
      case FYET_MAPPING_START:
        return Start(YamlKind::kMapping, e->mapping_start.anchor, e->mapping_start.tag,
                     e->mapping_start.mapping_start);
      case FYET_SEQUENCE_END:
      case FYET_MAPPING_END:
        End();
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }

  // An anchor's, alias's or tag's text.
  static std::string Text(fy_token* t) {
    if (t == nullptr) return {};
    size_t len = 0;
    const char* s = fy_token_get_text(t, &len);
    return s != nullptr ? std::string(s, len) : std::string();
  }

  // A scalar's text. libfyaml 0.7.12 gets runs of escaped quotes in single-quoted scalars
  // wrong in its iterator and leaks a 4 KiB buffer on them in fy_token_get_text (`'''''...'`,
  // found by the ASan fuzz build), so those scalars are read from the source here: `''` is a
  // quote, and line breaks fold as in every flow scalar.
  std::string ScalarText(fy_token* t) const {
    if (t == nullptr) return {};
    if (fy_token_scalar_style(t) == FYSS_SINGLE_QUOTED) {
      const fy_mark* begin = fy_token_start_mark(t);
      const fy_mark* end = fy_token_end_mark(t);
      if (begin != nullptr && end != nullptr && begin->input_pos > 0 &&
          begin->input_pos <= end->input_pos && end->input_pos < text_.size() &&
          text_[begin->input_pos - 1] == '\'' && text_[end->input_pos] == '\'') {
        return UnquoteSingle(text_.substr(begin->input_pos, end->input_pos - begin->input_pos));
      }
    }
    return Text(t);
  }

  static std::string UnquoteSingle(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size();) {
      const char c = raw[i];
      if (c == '\'') {  // always the first of a pair inside the quotes
        out += '\'';
        i += 2;
      } else if (c == '\n' || c == '\r') {
        // Trailing blanks of the line and leading blanks of the next are dropped; one line
        // break is a space, n > 1 are n - 1 newlines.
        while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
        size_t breaks = 0;
        while (i < raw.size() &&
               (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r')) {
          if (raw[i] == '\n' || (raw[i] == '\r' && (i + 1 == raw.size() || raw[i + 1] != '\n'))) {
            ++breaks;
          }
          ++i;
        }
        out += breaks == 1 ? std::string(" ") : std::string(breaks - 1, '\n');
      } else {
        out += c;
        ++i;
      }
    }
    return out;
  }

  // Where a node starts: the first of its anchor, tag and content (yaml-cpp's marks did the
  // same); for an empty node without properties, where the previous event ended.
  YamlMark MarkOf(fy_token* a, fy_token* b, fy_token* c) const {
    std::optional<fy_mark> best;
    for (fy_token* t : {a, b, c}) {
      if (t == nullptr) continue;
      const fy_mark* m = fy_token_start_mark(t);
      if (m == nullptr) continue;
      fy_mark start = *m;
      // An anchor's or alias's token starts at its name, a quoted scalar's after the quote;
      // point at the '&', '*' or quote, as yaml-cpp did.
      const fy_token_type type = fy_token_get_type(t);
      const bool quoted = type == FYTT_SCALAR && (fy_token_scalar_style(t) == FYSS_SINGLE_QUOTED ||
                                                  fy_token_scalar_style(t) == FYSS_DOUBLE_QUOTED);
      if ((type == FYTT_ANCHOR || type == FYTT_ALIAS || quoted) && start.column > 0) {
        --start.column;
        --start.input_pos;
      } else if (type == FYTT_SCALAR && (fy_token_scalar_style(t) == FYSS_LITERAL ||
                                         fy_token_scalar_style(t) == FYSS_FOLDED)) {
        start = BlockIndicator(start);
      }
      if (!best || start.input_pos < best->input_pos) best = start;
    }
    return ToMark(best ? *best : last_end_);
  }

  // A block scalar's token starts at its first content line; yaml-cpp's mark, and what a
  // reader looks for, is the '|' or '>' at the end of the line above (blank lines between
  // belong to the content). `content` itself if the header cannot be found.
  fy_mark BlockIndicator(const fy_mark& content) const {
    size_t line_start = std::min(content.input_pos, text_.size());
    while (line_start > 0 && text_[line_start - 1] != '\n') --line_start;
    int line = content.line;
    while (line_start > 0) {
      const size_t end = line_start - 1;  // the '\n' ending the line above
      size_t begin = end;
      while (begin > 0 && text_[begin - 1] != '\n') --begin;
      --line;
      std::string_view header = text_.substr(begin, end - begin);
      if (header.find_first_not_of(" \t\r") == std::string_view::npos) {
        line_start = begin;  // a blank line of the content
        continue;
      }
      for (size_t i = 1; i < header.size(); ++i) {  // a comment starts at " #"
        if (header[i] == '#' && (header[i - 1] == ' ' || header[i - 1] == '\t')) {
          header = header.substr(0, i);
          break;
        }
      }
      const size_t at = header.find_last_of("|>");
      if (at == std::string_view::npos || line < 0) return content;
      fy_mark mark{begin + at, line, 0};
      for (size_t i = 0; i < at; ++i) {
        if ((static_cast<unsigned char>(header[i]) & 0xC0) != 0x80) ++mark.column;
      }
      return mark;
    }
    return content;
  }

  uint32_t NewNode(YamlKind kind, YamlMark mark) {
    data_->nodes.emplace_back();
    data_->nodes.back().kind = kind;
    data_->nodes.back().mark = mark;
    return static_cast<uint32_t>(data_->nodes.size() - 1);
  }

  void Anchor(fy_token* anchor, uint32_t node) {
    if (anchor != nullptr) anchors_[Text(anchor)] = node;  // a later &name replaces an earlier
  }

  void Add(uint32_t node) {
    if (open_.empty()) {
      root_ = node;
    } else {
      pending_.push_back(node);
    }
  }

  std::optional<YamlSyntaxError> Scalar(const fy_event_scalar_data& s) {
    const YamlMark mark = MarkOf(s.anchor, s.tag, s.value);
    YamlScalarStyle style = YamlScalarStyle::kPlain;
    if (s.value != nullptr) {
      switch (fy_token_scalar_style(s.value)) {
        case FYSS_SINGLE_QUOTED:
          style = YamlScalarStyle::kSingleQuoted;
          break;
        case FYSS_DOUBLE_QUOTED:
          style = YamlScalarStyle::kDoubleQuoted;
          break;
        case FYSS_LITERAL:
          style = YamlScalarStyle::kLiteral;
          break;
        case FYSS_FOLDED:
          style = YamlScalarStyle::kFolded;
          break;
        default:
          break;
      }
    }
    std::string text = ScalarText(s.value);
    std::string tag = Text(s.tag);
    const bool null =
        style == YamlScalarStyle::kPlain && tag.empty() &&
        (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL");
    const uint32_t index = NewNode(null ? YamlKind::kNull : YamlKind::kScalar, mark);
    YamlNode::Data::Node& node = data_->nodes[index];
    node.style = style;
    node.text = std::move(text);
    node.tag = std::move(tag);
    Anchor(s.anchor, index);
    Add(index);
    return std::nullopt;
  }

  std::optional<YamlSyntaxError> Start(YamlKind kind, fy_token* anchor, fy_token* tag,
                                       fy_token* start) {
    const YamlMark mark = MarkOf(anchor, tag, start);
    if (open_.size() >= static_cast<size_t>(kMaxYamlDepth)) {
      return YamlSyntaxError{mark, "lists and mappings are nested more than " +
                                       std::to_string(kMaxYamlDepth) + " levels deep"};
    }
    const uint32_t index = NewNode(kind, mark);
    data_->nodes[index].tag = Text(tag);
    // Registered before the content, so an alias inside refers to this node (a cycle that
    // walkers detect) rather than being unknown, as with yaml-cpp.
    Anchor(anchor, index);
    open_.push_back(Open{index, pending_.size()});
    return std::nullopt;
  }

  void End() {
    if (open_.empty()) return;
    const Open open = open_.back();
    open_.pop_back();
    YamlNode::Data::Node& node = data_->nodes[open.node];
    const size_t n = pending_.size() - open.first_pending;
    node.first = static_cast<uint32_t>(data_->children.size());
    node.count = static_cast<uint32_t>(node.kind == YamlKind::kMapping ? n / 2 : n);
    data_->children.insert(data_->children.end(), pending_.begin() + open.first_pending,
                           pending_.end());
    pending_.resize(open.first_pending);
    Add(open.node);
  }

  YamlNode::Data* data_;
  std::string_view text_;
  std::unordered_map<std::string, uint32_t> anchors_;
  std::vector<Open> open_;
  std::vector<uint32_t> pending_;
  std::optional<uint32_t> root_;
  fy_mark last_end_{0, 0, 0};
};

}  // namespace

YamlKind YamlNode::kind() const {
  return doc_ ? doc_->nodes[index_].kind : YamlKind::kNull;
}

const std::string& YamlNode::scalar() const {
  return doc_ && doc_->nodes[index_].kind != YamlKind::kSequence &&
                 doc_->nodes[index_].kind != YamlKind::kMapping
             ? doc_->nodes[index_].text
             : EmptyString();
}

YamlScalarStyle YamlNode::style() const {
  return doc_ ? doc_->nodes[index_].style : YamlScalarStyle::kPlain;
}

const std::string& YamlNode::tag() const {
  return doc_ ? doc_->nodes[index_].tag : EmptyString();
}

YamlMark YamlNode::mark() const {
  return doc_ ? doc_->nodes[index_].mark : YamlMark{};
}

size_t YamlNode::size() const {
  if (!doc_) return 0;
  const Data::Node& n = doc_->nodes[index_];
  return n.kind == YamlKind::kSequence || n.kind == YamlKind::kMapping ? n.count : 0;
}

YamlNode YamlNode::item(size_t i) const {
  const Data::Node& n = doc_->nodes[index_];
  return YamlNode(doc_, doc_->children[n.first + i]);
}

YamlNode YamlNode::key(size_t i) const {
  const Data::Node& n = doc_->nodes[index_];
  return YamlNode(doc_, doc_->children[n.first + 2 * i]);
}

YamlNode YamlNode::value(size_t i) const {
  const Data::Node& n = doc_->nodes[index_];
  return YamlNode(doc_, doc_->children[n.first + 2 * i + 1]);
}

YamlNode YamlNode::Find(std::string_view key_text) const {
  if (!IsMapping()) return YamlNode();
  for (size_t i = 0, n = size(); i < n; ++i) {
    YamlNode k = key(i);
    if (k.IsScalar() && k.scalar() == key_text) return value(i);
  }
  return YamlNode();
}

YamlDocument::YamlDocument() : data_(std::make_unique<YamlNode::Data>()) {}
YamlDocument::YamlDocument(YamlDocument&&) noexcept = default;
YamlDocument& YamlDocument::operator=(YamlDocument&&) noexcept = default;
YamlDocument::~YamlDocument() = default;

size_t YamlDocument::size() const {
  return data_ ? data_->roots.size() : 0;
}

YamlNode YamlDocument::root(size_t i) const {
  if (!data_ || i >= data_->roots.size()) return YamlNode();
  return YamlNode(data_.get(), data_->roots[i]);
}

std::optional<YamlDocument> YamlDocument::Parse(std::string_view text, YamlSyntaxError* error) {
  if (std::optional<YamlSyntaxError> bad = FindUnreadableByte(text)) {
    *error = std::move(*bad);
    return std::nullopt;
  }
  YamlDocument doc;
  if (std::optional<YamlSyntaxError> e = TreeBuilder(doc.data_.get(), text).Run()) {
    *error = std::move(*e);
    return std::nullopt;
  }
  return doc;
}

Result<YamlDocument> YamlDocument::Parse(std::string_view text, const std::string& file) {
  YamlSyntaxError error;
  std::optional<YamlDocument> doc = Parse(text, &error);
  if (!doc) {
    return InvalidArgumentError(YamlLocation(file, error.mark) +
                                ": YAML syntax error: " + error.message);
  }
  return std::move(*doc);
}

std::optional<bool> YamlBool(std::string_view text, bool accept_y) {
  std::string v(text);
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "true" || v == "yes" || v == "on" || (accept_y && v == "y")) return true;
  if (v == "false" || v == "no" || v == "off" || (accept_y && v == "n")) return false;
  return std::nullopt;
}

std::string YamlLocation(const std::string& file, YamlMark mark) {
  std::string out = file;
  if (mark.line > 0) {
    out += ":" + std::to_string(mark.line);
    if (mark.column > 0) out += ":" + std::to_string(mark.column);
  }
  return out;
}

}  // namespace sp
