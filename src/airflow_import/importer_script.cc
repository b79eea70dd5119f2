// Runs the embedded importer modules from memory (see importer_script.h).
#include "airflow_import/importer_script.h"

namespace sp::airflow_import {
namespace {

// sys.argv on entry: ["-c", N, NAME, SOURCE, ... (N pairs), FILE, OPTIONS_JSON].
constexpr char kLoader[] = R"py(
import importlib.abc
import importlib.util
import sys

count = int(sys.argv[1])
sources = {sys.argv[2 + 2 * i]: sys.argv[3 + 2 * i] for i in range(count)}
del sys.argv[1:2 + 2 * count]


class EmbeddedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name not in sources:
            return None
        return importlib.util.spec_from_loader(name, self, origin=name + ".py")

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(compile(sources[module.__name__], module.__name__ + ".py", "exec"), module.__dict__)


sys.meta_path.insert(0, EmbeddedModules())
import airflow_to_sparkplane
airflow_to_sparkplane.main()
)py";

}  // namespace

std::vector<std::string> ImporterArguments(const std::string& path,
                                           const std::string& options_json) {
  std::vector<std::string> args = {"-c", kLoader};
  std::span<const EmbeddedFile> modules = ImporterModules();
  args.push_back(std::to_string(modules.size()));
  for (const EmbeddedFile& m : modules) {
    std::string_view name = m.path;
    if (name.ends_with(".py")) name.remove_suffix(3);
    args.emplace_back(name);
    args.emplace_back(m.content);
  }
  args.push_back(path);
  args.push_back(options_json);
  return args;
}

}  // namespace sp::airflow_import
