// Connections: named endpoints and credentials (as in Airflow) that tasks refer to by conn_id.
// Used by the `connection` task type, by spark_submit's `conn_id`, and by the CLI's
// `sparkplane connections add|list|get|delete` commands.
//
// How a connection is stored (store::ConnectionRecord), so that the store's plain columns never
// hold a secret and listing connections needs no key:
//   password_sealed  the password sealed with SecretBox ("" when there is none)
//   extras           every extra by name; a secret extra's value is "***" there
//   extras_sealed    a sealed JSON object of the secret extras' real values ("" when none)
// Sealing needs the secret key (secrets.h) only when there is a password or a secret extra;
// revealing needs it only when there is something to reveal.
//
// URI form (ParseConnectionUri), as Airflow writes connections:
//   TYPE://[LOGIN[:PASSWORD]@]HOST[:PORT][/SCHEMA][?KEY=VALUE&...]
// with %XX escapes in every part ('+' is a space in the query). "spark://127.0.0.1:7077" is a
// connection of type spark to host 127.0.0.1, port 7077. Query pairs become extras; those whose
// names look secret (LooksLikeSecretName: spark://h:7077?password=...&api_key=...) are secret
// extras, sealed like the password.
//
// Secret extras are the ones secret_extras lists plus every extra whose name looks secret,
// however the connection was given (URI, --extras, a task's extras): a token is never stored
// or listed in clear because nobody thought to list it.
//
// Error messages never contain a password or a secret extra's value.
// Thread safety: free functions over a thread-safe Store.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "operators/secrets.h"
#include "store/records.h"
#include "store/store.h"

namespace sp::operators {

// What shows in place of a secret that is not revealed.
inline constexpr char kMaskedSecret[] = "***";

// A connection as given by a user (CLI flags, a URI, a `connection` task), secrets in clear.
struct ConnectionInput {
  std::string conn_id;
  std::string conn_type;  // "spark", "postgres", ...
  std::string host;
  int port = 0;  // 0 = none
  std::string schema;
  std::string login;
  std::string password;  // "" = none
  std::map<std::string, std::string> extras;
  std::vector<std::string> secret_extras;  // names in `extras` whose values are sealed
};

enum class SecretReveal { kHidden, kRevealed };

// A connection as shown to users. With SecretReveal::kHidden, `password` is "***" when one is
// set and every secret extra's value is "***".
struct Connection {
  std::string conn_id;
  std::string conn_type;
  std::string host;
  int port = 0;
  std::string schema;
  std::string login;
  bool has_password = false;
  std::string password;  // clear text only when revealed; "" when there is none
  std::map<std::string, std::string> extras;
  std::vector<std::string> secret_extras;  // names, sorted
  int64_t created_by_run = 0;              // 0 when added by a user

  // {"conn_id", "conn_type", "host", "port", "schema", "login", "password", "extras",
  //  "secret_extras", "created_by_run"}; password and secrets as in the fields above.
  nlohmann::json ToJson() const;
};

// True for names of passwords, tokens, secrets and keys: case-insensitively, a name holding
// "password", "passwd", "secret", "token", "credential" or "private", or whose words (split at
// '_', '-', '.', and lower-to-upper case changes) include "pwd", "pass", "key" or one ending in
// "key" (apikey, accessKey, ssl_key, sslkey; not keyspace, keytab).
bool LooksLikeSecretName(std::string_view name);

// Parses a connection URI (see the header comment); conn_id is left empty. InvalidArgument
// saying which part is wrong (the URI itself is not echoed: it may hold a password).
Result<ConnectionInput> ParseConnectionUri(std::string_view uri);

// conn_id is 1-250 of [A-Za-z0-9_.-], starting with a letter or digit. InvalidArgument otherwise.
Status ValidateConnId(const std::string& conn_id);

// Checks conn_id (ValidateConnId), conn_type,
// port (0-65535) and that every secret_extras name is an extra. InvalidArgument naming the field.
Status ValidateConnectionInput(const ConnectionInput& input);

// Validates, seals the secrets (the password, the extras secret_extras names and those whose
// names look secret) and upserts the connection (replacing one with the same id).
// Returns the record as stored (sealed). FailedPrecondition kNoSecretKeyMessage when there are
// secrets and no key.
Result<store::ConnectionRecord> AddConnection(store::Store& store, const ConnectionInput& input,
                                              const SecretKeySource& key,
                                              int64_t created_by_run = 0);

// One connection. NotFound "no connection 'x'" with a "did you mean" when one is close.
// kRevealed opens the secrets (FailedPrecondition without the right key); kHidden needs no key.
Result<Connection> GetConnection(store::Store& store, const std::string& conn_id,
                                 SecretReveal reveal, const SecretKeySource& key = {});

// Every connection, by conn_id, secrets hidden.
Result<std::vector<Connection>> ListConnections(store::Store& store);

// Removes a connection. NotFound (with "did you mean") when there is none.
Status DeleteConnection(store::Store& store, const std::string& conn_id);

// The hidden view of a stored record (no key needed).
Connection HiddenConnection(const store::ConnectionRecord& record);

// "type spark, host 127.0.0.1, port 7077, login bob, password: ***, extras {queue=etl,
// token=***}" for logs: secrets are always masked, whatever `c` holds.
std::string DescribeConnection(const Connection& c);

// NotFound "unknown connection 'x'" plus "did you mean 'y'?" over the stored conn_ids.
Status UnknownConnectionError(store::Store& store, const std::string& conn_id);

// The Spark master URL a connection names, for spark_submit's conn_id:
//   host "spark://h:p", "k8s://...", "local[N]", "local" or "yarn"   used as is (a spark:// host
//                                                                  without a port gets `port`)
//   host "h"                                                       spark://h:<port or 7077>
// FailedPrecondition when the type is not spark or there is no host.
Result<std::string> SparkMasterUrl(const store::ConnectionRecord& record);

}  // namespace sp::operators
