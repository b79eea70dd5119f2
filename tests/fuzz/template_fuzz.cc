// Fuzzes templates: ParseTemplate, RenderTemplate, RenderShellTemplate and RenderJson on the
// input text. The context is a fixed one shaped like the scheduler's (built-ins, params, task
// outputs), or, when the input has a NUL byte, the JSON after it (depth-bounded).
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "dag/template.h"
#include "fuzz_util.h"

namespace {

const nlohmann::json& DefaultContext() {
  static nlohmann::json* const kContext = new nlohmann::json(nlohmann::json::parse(R"({
    "ds": "2026-01-01", "ds_nodash": "20260101", "ts": "2026-01-01T00:00:00Z",
    "logical_date": "2026-01-01T00:00:00Z", "data_interval_start": "2026-01-01T00:00:00Z",
    "data_interval_end": "2026-01-02T00:00:00Z", "run_id": "scheduled__2026-01-01",
    "dag": {"id": "fuzz"}, "task": {"id": "t"}, "try_number": 1,
    "params": {"name": "x", "quote": "a'b\"c", "n": 3, "f": 1.5, "b": true, "none": null,
               "list": [1, "two", {"three": 3}], "obj": {"k": "v", "nested": {"deep": [1]}}},
    "tasks": {"create_cluster": {"outputs": {"master_url": "spark://127.0.0.1:7077"}},
              "a-b": {"outputs": {"c.d": "flat"}}},
    "dag.id": "flat-dag-id"
  })"));
  // A param value may hold bytes that are not UTF-8 (yaml-cpp passed them through from DAG
  // files; the YAML tree refuses them now, other sources of values may not).
  (*kContext)["params"]["bytes"] = {{"k", "a\xff"}};
  return *kContext;
}

void Check(const std::string& text, const nlohmann::json& context) {
  sp::Result<std::vector<sp::dag::TemplateRef>> refs = sp::dag::ParseTemplate(text);
  if (refs.ok()) {
    for (const sp::dag::TemplateRef& ref : *refs) {
      SP_FUZZ_CHECK(ref.offset + 4 <= text.size(), text);
      SP_FUZZ_CHECK(text.compare(ref.offset, 2, "{{") == 0, text);
      SP_FUZZ_CHECK(!ref.path.empty(), text);
    }
  }

  sp::Result<std::string> rendered = sp::dag::RenderTemplate(text, context);
  // Rendering parses the same references, so it cannot accept what ParseTemplate rejects.
  SP_FUZZ_CHECK(refs.ok() || !rendered.ok(), text);
  if (rendered.ok() && refs.ok() && refs->empty()) SP_FUZZ_CHECK(*rendered == text, text);

  std::map<std::string, std::string> taken = {{"SP_params_name", "task env"}, {"SP_ds", "x"}};
  sp::Result<sp::dag::ShellRendering> shell = sp::dag::RenderShellTemplate(text, context, taken);
  // The shell rendering refuses more (a value after a backslash), never less.
  SP_FUZZ_CHECK(!shell.ok() || rendered.ok(), text);
  if (shell.ok()) {
    for (const auto& [name, value] : shell->env) {
      SP_FUZZ_CHECK(taken.count(name) == 0, text + " reused " + name);
    }
  }

  nlohmann::json value = {{"command", text}, {"args", {text, 1, nullptr, {{"k", text}}}}};
  sp::Result<nlohmann::json> json = sp::dag::RenderJson(value, context);
  SP_FUZZ_CHECK(json.ok() == rendered.ok(), text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  std::string text(input.substr(0, nul));
  nlohmann::json custom;
  if (nul != std::string_view::npos) {
    custom = sp::fuzz::ParseJsonForFuzz(input.substr(nul + 1));
    if (custom.is_discarded()) return -1;  // not a useful input
  }
  const nlohmann::json& context = nul == std::string_view::npos ? DefaultContext() : custom;

  Check(text, context);
  return 0;
}
