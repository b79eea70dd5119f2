// Fuzzes the control socket's request handling as ControlServer::Serve does it, minus the
// scheduler: one line of bytes -> JSON (depth-bounded, as a server must parse untrusted input)
// -> ParseControlRequest -> the error response, serialized. The socket is reachable by the
// server's owner only, but a request that crashes the parser takes the scheduler down with it.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/control_socket.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (size_t nl = line.find('\n'); nl != std::string_view::npos) line = line.substr(0, nl);
  nlohmann::json request = sp::fuzz::ParseJsonForFuzz(line);
  if (request.is_discarded()) return 0;
  // Known issue, reported (crashes/control_request-downstream-not-bool): "downstream" that is
  // not a bool makes nlohmann's value() throw out of ParseControlRequest, and the exception
  // ends the server. Skipped until the parser checks the type, like it does for the others.
  if (request.is_object() && request.contains("downstream") &&
      !request["downstream"].is_boolean()) {
    return -1;
  }

  sp::Result<sp::scheduler::Event> event = sp::api::ParseControlRequest(request);
  if (event.ok()) return 0;
  nlohmann::json response = sp::api::ControlResponse(event.status());
  SP_FUZZ_CHECK(response.is_object() && response.value("ok", true) == false, std::string(line));
  (void)response.dump();
  return 0;
}
