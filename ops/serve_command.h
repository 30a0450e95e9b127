// `walship serve`: load the config, open the store, serve HTTP, run the loop.
#pragma once

#include <optional>
#include <string>

#include "node/config.h"

namespace walship {

// Returns the process exit code: 0 after a clean drain, 1 when the node could
// not start, 2 for a bad configuration.
int RunServe(const std::optional<std::string>& config_path, const ConfigOverrides& overrides);

}  // namespace walship
