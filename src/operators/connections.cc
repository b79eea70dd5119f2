// Connections: URI parsing, sealing and the store-level helpers; see connections.h.
#include "operators/connections.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "common/nearest_name.h"
#include "common/percent_encoding.h"
#include "dag/loader.h"

namespace sp::operators {

namespace {

std::string Quoted(const std::string& s) {
  return "'" + s + "'";
}

bool IsIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

std::vector<std::string> StoredIds(store::Store& store) {
  std::vector<std::string> ids;
  Result<std::vector<store::ConnectionRecord>> all = store.ListConnections();
  if (all.ok()) {
    for (const store::ConnectionRecord& r : *all) ids.push_back(r.conn_id);
  }
  return ids;
}

std::string ExtraText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Secret extras by name from a sealed JSON object's plaintext.
Result<std::map<std::string, std::string>> ParseSecretExtras(const std::string& json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return FailedPreconditionError("the sealed extras of a connection are not a JSON object");
  }
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) out[k] = ExtraText(v);
  return out;
}

// The words of a name: split at non-alphanumerics and at lower-to-upper case changes, lowered.
std::vector<std::string> NameWords(std::string_view name) {
  std::vector<std::string> words;
  std::string word;
  char prev = '\0';
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    bool boundary =
        !std::isalnum(u) || (std::isupper(u) && std::islower(static_cast<unsigned char>(prev)));
    if (boundary && !word.empty()) {
      words.push_back(word);
      word.clear();
    }
    if (std::isalnum(u)) word += static_cast<char>(std::tolower(u));
    prev = c;
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

bool IsSecretExtra(const ConnectionInput& input, const std::string& name) {
  return LooksLikeSecretName(name) ||
         std::find(input.secret_extras.begin(), input.secret_extras.end(), name) !=
             input.secret_extras.end();
}

}  // namespace

bool LooksLikeSecretName(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* part : {"password", "passwd", "secret", "token", "credential", "private"}) {
    if (lower.find(part) != std::string::npos) return true;
  }
  for (const std::string& w : NameWords(name)) {
    if (w == "pwd" || w == "pass" || w == "key") return true;
    if (w.size() > 3 && w.compare(w.size() - 3, 3, "key") == 0) return true;
  }
  return false;
}

nlohmann::json Connection::ToJson() const {
  nlohmann::json extras_json = nlohmann::json::object();
  for (const auto& [k, v] : extras) extras_json[k] = v;
  return nlohmann::json{{"conn_id", conn_id},
                        {"conn_type", conn_type},
                        {"host", host},
                        {"port", port},
                        {"schema", schema},
                        {"login", login},
                        {"password", password},
                        {"extras", extras_json},
                        {"secret_extras", secret_extras},
                        {"created_by_run", created_by_run}};
}

Result<ConnectionInput> ParseConnectionUri(std::string_view uri) {
  const std::string form =
      "expected TYPE://[LOGIN[:PASSWORD]@]HOST[:PORT][/SCHEMA][?KEY=VALUE&...], such as "
      "spark://127.0.0.1:7077";
  auto bad = [&](const std::string& what) {
    return InvalidArgumentError("connection URI: " + what + "; " + form);
  };
  size_t sep = uri.find("://");
  if (sep == std::string_view::npos || sep == 0) return bad("no TYPE:// at the start");
  ConnectionInput in;
  std::string_view scheme = uri.substr(0, sep);
  if (!std::isalpha(static_cast<unsigned char>(scheme[0]))) {
    return bad("the type must start with a letter");
  }
  for (char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '.' && c != '-' &&
        c != '_') {
      return bad("the type may hold only letters, digits, '+', '.', '-' and '_'");
    }
    in.conn_type += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string_view rest = uri.substr(sep + 3);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    std::optional<std::string> schema = PercentDecode(rest.substr(slash + 1), PlusIs::kPlus);
    if (!schema) return bad("a bad %-escape in the schema");
    in.schema = *schema;
  }
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::string_view login = userinfo;
    if (size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      login = userinfo.substr(0, colon);
      std::optional<std::string> password =
          PercentDecode(userinfo.substr(colon + 1), PlusIs::kPlus);
      if (!password) return bad("a bad %-escape in the password");
      in.password = *password;
    }
    std::optional<std::string> l = PercentDecode(login, PlusIs::kPlus);
    if (!l) return bad("a bad %-escape in the login");
    in.login = *l;
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 host without its closing ']'");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after the IPv6 host");
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  std::optional<std::string> h = PercentDecode(host, PlusIs::kPlus);
  if (!h) return bad("a bad %-escape in the host");
  in.host = *h;
  if (!port.empty()) {
    bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                    return std::isdigit(static_cast<unsigned char>(c));
                  });
    int value = digits ? std::stoi(std::string(port)) : 0;
    if (!digits || value < 1 || value > 65535) {
      return bad("port '" + std::string(port) + "' is not a number from 1 to 65535");
    }
    in.port = value;
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::optional<std::string> key = PercentDecode(pair.substr(0, eq), PlusIs::kSpace);
    std::optional<std::string> value = eq == std::string_view::npos
                                           ? std::optional<std::string>("")
                                           : PercentDecode(pair.substr(eq + 1), PlusIs::kSpace);
    if (!key || !value || key->empty()) return bad("a malformed KEY=VALUE in the query");
    in.extras[*key] = *value;
    if (LooksLikeSecretName(*key) && std::find(in.secret_extras.begin(), in.secret_extras.end(),
                                               *key) == in.secret_extras.end()) {
      in.secret_extras.push_back(*key);
    }
  }
  return in;
}

Status ValidateConnId(const std::string& id) {
  if (id.empty()) return InvalidArgumentError("conn_id: must not be empty");
  if (id.size() > 250 || !std::isalnum(static_cast<unsigned char>(id[0])) ||
      !std::all_of(id.begin(), id.end(), IsIdChar)) {
    return InvalidArgumentError("conn_id " + Quoted(id) +
                                ": expected 1-250 letters, digits, '_', '-' or '.', starting "
                                "with a letter or digit");
  }
  return OkStatus();
}

Status ValidateConnectionInput(const ConnectionInput& input) {
  RETURN_IF_ERROR(ValidateConnId(input.conn_id));
  if (input.conn_type.empty()) {
    return InvalidArgumentError("conn_type: must not be empty (for example spark)");
  }
  if (!std::all_of(input.conn_type.begin(), input.conn_type.end(), IsIdChar)) {
    return InvalidArgumentError("conn_type " + Quoted(input.conn_type) +
                                ": expected letters, digits, '_', '-' or '.'");
  }
  if (input.port < 0 || input.port > 65535) {
    return InvalidArgumentError("port: expected 0-65535; got " + std::to_string(input.port));
  }
  for (const std::string& name : input.secret_extras) {
    if (input.extras.count(name) == 0) {
      return InvalidArgumentError("secret_extras: " + Quoted(name) +
                                  " is not one of the extras (list the extras' names whose "
                                  "values are secret)");
    }
  }
  return OkStatus();
}

Result<store::ConnectionRecord> AddConnection(store::Store& store, const ConnectionInput& input,
                                              const SecretKeySource& key, int64_t created_by_run) {
  RETURN_IF_ERROR(ValidateConnectionInput(input));
  store::ConnectionRecord r;
  r.conn_id = input.conn_id;
  r.conn_type = input.conn_type;
  r.host = input.host;
  r.port = input.port;
  r.schema = input.schema;
  r.login = input.login;
  r.created_by_run = created_by_run;
  nlohmann::json secret = nlohmann::json::object();
  for (const auto& [name, value] : input.extras) {
    bool is_secret = IsSecretExtra(input, name);
    r.extras[name] = is_secret ? std::string(kMaskedSecret) : value;
    if (is_secret) secret[name] = value;
  }
  if (!input.password.empty() || !secret.empty()) {
    Result<SecretBox> box = SecretBox::Load(key);
    if (!box.ok()) return box.status().With("connection " + Quoted(input.conn_id));
    if (!input.password.empty()) {
      ASSIGN_OR_RETURN(r.password_sealed, box->Seal(input.password));
    }
    if (!secret.empty()) {
      ASSIGN_OR_RETURN(
          r.extras_sealed,
          box->Seal(secret.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    }
  }
  store::Mutation m;
  m.connections.push_back(r);
  RETURN_IF_ERROR(store.Commit(m).With("saving connection " + Quoted(input.conn_id)));
  return r;
}

Connection HiddenConnection(const store::ConnectionRecord& record) {
  Connection c;
  c.conn_id = record.conn_id;
  c.conn_type = record.conn_type;
  c.host = record.host;
  c.port = record.port;
  c.schema = record.schema;
  c.login = record.login;
  c.has_password = !record.password_sealed.empty();
  c.password = c.has_password ? kMaskedSecret : "";
  c.created_by_run = record.created_by_run;
  if (record.extras.is_object()) {
    for (const auto& [k, v] : record.extras.items()) {
      c.extras[k] = ExtraText(v);
      if (!record.extras_sealed.empty() && c.extras[k] == kMaskedSecret) {
        c.secret_extras.push_back(k);
      }
    }
  }
  return c;
}

Result<Connection> GetConnection(store::Store& store, const std::string& conn_id,
                                 SecretReveal reveal, const SecretKeySource& key) {
  ASSIGN_OR_RETURN(std::optional<store::ConnectionRecord> record, store.GetConnection(conn_id));
  if (!record) return UnknownConnectionError(store, conn_id);
  Connection c = HiddenConnection(*record);
  if (reveal == SecretReveal::kHidden) return c;
  if (record->password_sealed.empty() && record->extras_sealed.empty()) return c;
  Result<SecretBox> box = SecretBox::Load(key);
  if (!box.ok()) return box.status().With("connection " + Quoted(conn_id));
  if (!record->password_sealed.empty()) {
    Result<std::string> password = box->Open(record->password_sealed);
    if (!password.ok()) return password.status().With("connection " + Quoted(conn_id));
    c.password = *password;
  }
  if (!record->extras_sealed.empty()) {
    Result<std::string> text = box->Open(record->extras_sealed);
    if (!text.ok()) return text.status().With("connection " + Quoted(conn_id));
    Result<std::map<std::string, std::string>> secret = ParseSecretExtras(*text);
    if (!secret.ok()) return secret.status().With("connection " + Quoted(conn_id));
    c.secret_extras.clear();
    for (const auto& [k, v] : *secret) {
      c.extras[k] = v;
      c.secret_extras.push_back(k);
    }
  }
  return c;
}

Result<std::vector<Connection>> ListConnections(store::Store& store) {
  ASSIGN_OR_RETURN(std::vector<store::ConnectionRecord> records, store.ListConnections());
  std::vector<Connection> out;
  out.reserve(records.size());
  for (const store::ConnectionRecord& r : records) out.push_back(HiddenConnection(r));
  std::sort(out.begin(), out.end(),
            [](const Connection& a, const Connection& b) { return a.conn_id < b.conn_id; });
  return out;
}

Status DeleteConnection(store::Store& store, const std::string& conn_id) {
  ASSIGN_OR_RETURN(std::optional<store::ConnectionRecord> record, store.GetConnection(conn_id));
  if (!record) return UnknownConnectionError(store, conn_id);
  store::Mutation m;
  m.delete_connections.push_back(conn_id);
  return store.Commit(m).With("deleting connection " + Quoted(conn_id));
}

std::string DescribeConnection(const Connection& c) {
  std::string out = "type " + (c.conn_type.empty() ? std::string("(none)") : c.conn_type);
  if (!c.host.empty()) out += ", host " + c.host;
  if (c.port > 0) out += ", port " + std::to_string(c.port);
  if (!c.schema.empty()) out += ", schema " + c.schema;
  if (!c.login.empty()) out += ", login " + c.login;
  if (c.has_password || !c.password.empty()) out += std::string(", password: ") + kMaskedSecret;
  if (!c.extras.empty()) {
    out += ", extras {";
    bool first = true;
    for (const auto& [k, v] : c.extras) {
      bool secret =
          std::find(c.secret_extras.begin(), c.secret_extras.end(), k) != c.secret_extras.end();
      out += (first ? "" : ", ") + k + "=" + (secret ? std::string(kMaskedSecret) : v);
      first = false;
    }
    out += "}";
  }
  return out;
}

Status UnknownConnectionError(store::Store& store, const std::string& conn_id) {
  std::vector<std::string> ids = StoredIds(store);
  std::string near = NearestName(conn_id, ids);
  std::string message = "unknown connection " + Quoted(conn_id);
  if (!near.empty()) {
    message += "; did you mean " + Quoted(near) + "?";
  } else if (ids.empty()) {
    message +=
        " (there are no connections; add one with a `connection` task or "
        "`sparkplane connections add`)";
  }
  return NotFoundError(message);
}

Result<std::string> SparkMasterUrl(const store::ConnectionRecord& record) {
  std::string type = record.conn_type;
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (type != "spark") {
    return FailedPreconditionError("connection " + Quoted(record.conn_id) + " has type " +
                                   Quoted(record.conn_type) +
                                   "; spark_submit needs a connection of type spark");
  }
  const std::string& host = record.host;
  if (host.empty()) {
    return FailedPreconditionError("connection " + Quoted(record.conn_id) +
                                   " has no host (expected a host name or a master URL such as "
                                   "spark://127.0.0.1:7077)");
  }
  if (host == "local" || host.rfind("local[", 0) == 0 || host == "yarn" ||
      host.rfind("k8s://", 0) == 0) {
    return host;
  }
  if (host.rfind("spark://", 0) == 0) {
    std::string authority = host.substr(8);
    bool has_port = authority.find(':') != std::string::npos &&
                    (authority.front() != '[' || authority.find("]:") != std::string::npos);
    if (!has_port && record.port > 0) return host + ":" + std::to_string(record.port);
    return host;
  }
  std::string h =
      host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
  return "spark://" + h + ":" + std::to_string(record.port > 0 ? record.port : 7077);
}

}  // namespace sp::operators
