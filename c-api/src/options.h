// Validation of ntm_options into the core's NodeConfig.
#pragma once

#include <stdexcept>
#include <string>

#include "api_common.h"
#include "node/node_config.h"

namespace ntm::capi {

// A bad option; the message names the field and the problem.
class OptionError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

node::NodeConfig to_node_config(const ntm_options* options);

}  // namespace ntm::capi
