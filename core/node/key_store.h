// The node's static key on disk (control-plane mode with a state directory): loaded if present,
// made and saved (mode 0600) if not, so a node keeps its identity across restarts.
#pragma once

#include <string>

#include "crypto/x25519.h"

namespace ntm::node {

// Throws std::runtime_error naming the file on I/O errors or a corrupt key file.
crypto::X25519KeyPair load_or_create_key(const std::string& state_dir);

}  // namespace ntm::node
