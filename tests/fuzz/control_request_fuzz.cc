// Fuzzes the control socket's request handling as ControlServer::Answer does it, minus the
// scheduler: one line of bytes -> ParseJsonBounded -> ParseControlRequest -> the error response,
// serialized. The socket is reachable by the server's owner only, but a request that crashes
// the parser takes the scheduler down with it.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/control_socket.h"
#include "common/json_limits.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (size_t nl = line.find('\n'); nl != std::string_view::npos) line = line.substr(0, nl);

  // As ControlServer::Answer, without the scheduler: errors become the response.
  nlohmann::json response;
  sp::Result<nlohmann::json> request = sp::ParseJsonBounded(line);
  if (!request.ok()) {
    response = sp::api::ControlResponse(request.status().With("request"));
  } else {
    sp::Result<sp::scheduler::Event> event = sp::api::ParseControlRequest(*request);
    if (event.ok()) return 0;
    response = sp::api::ControlResponse(event.status());
  }
  SP_FUZZ_CHECK(response.is_object() && response.value("ok", true) == false, std::string(line));
  // Messages may quote the request's bytes; the server serializes them like this.
  (void)response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
