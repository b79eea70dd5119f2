// ReadFileText: a whole file as bytes, or an error that names what the file is for and where it
// is ("cannot read kubeconfig /home/u/.kube/config: No such file or directory"). One helper for
// the config file, kubeconfigs, token and CA files, DAG files.
//
// Thread safety: safe from any thread.
#pragma once

#include <string>

#include "common/status.h"

namespace sp {

// FailedPrecondition naming `what` and the path (with the system's reason) when it cannot be read.
Result<std::string> ReadFileText(const std::string& path, const std::string& what);

}  // namespace sp
