// Request and Response: what an HTTP handler sees and returns, free of the network library so
// that only server.cc compiles Beast. A Response either has a body or an EventStream (a
// Server-Sent Events stream the server writes until the stream finishes or the client leaves).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/percent_encoding.h"
#include "common/status.h"
#include "http/event_stream.h"

namespace sp::http {

struct Request {
  std::string method;  // "GET"
  std::string target;  // as sent: "/api/v1/runs?state=failed"
  std::string path;    // the target without its query, still percent-encoded
  std::multimap<std::string, std::string> query;  // decoded
  std::map<std::string, std::string> headers;     // names in lower case
  std::string body;
  std::string remote_address;
  std::map<std::string, std::string> params;  // path parameters, decoded; set by the Router
  std::string route;  // the matched route's pattern ("" when none), for metrics

  // The header's value ("" when absent); `name` in lower case.
  std::string Header(const std::string& name) const;
  std::optional<std::string> Query(const std::string& name) const;
  // A cookie's value from the Cookie header ("" when absent).
  std::string Cookie(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::shared_ptr<EventStream> stream;  // set: the body is this event stream

  void SetHeader(const std::string& name, const std::string& value);
};

Response JsonResponse(int status, const nlohmann::json& body);
// An RFC 9457 problem: {"type","title","status","detail","code"} as application/problem+json.
Response Problem(int status, const std::string& detail, const std::string& code = "");
// The HTTP status for a Status code (InvalidArgument 400, NotFound 404, AlreadyExists 409, ...).
int HttpStatus(StatusCode code);
Response Problem(const Status& status);
const char* ReasonPhrase(int status);

// Splits "a=1&b=x%20y" into decoded pairs ('+' is a space; malformed pairs are skipped).
std::multimap<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace sp::http
