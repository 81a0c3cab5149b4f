// Fuzz target "server_config": the ntm-server config file (servers/common/config): `key = value`
// lines through OptionSink, then the combination check. Errors are ConfigError exceptions; any
// other exception, a crash or undefined behaviour is a finding. Host names do not resolve here
// (numeric_resolver.c).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "common/config.h"

using namespace ntm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  servers::ServerOptions options;
  try {
    servers::load_config_stream(in, "fuzz.conf", options);
    servers::validate(options);
  } catch (const servers::ConfigError&) {
  }
  return 0;
}
