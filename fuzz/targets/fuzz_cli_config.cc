// Fuzz target "cli_config": the `ntm up` config file (cli/config, cli/rules, cli/address):
// settings, forward/expose rules, the combination check and the ntm_options built from it.
// Errors are ConfigError exceptions; anything else is a finding. Files named by key-file and
// password-file are not read (the fuzzer must not open arbitrary paths).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "config.h"
#include "fuzz_check.h"

using namespace ntm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  cli::UpConfig config;
  try {
    cli::load_config_stream(in, "fuzz.conf", config);
    for (const auto& rule : config.rules) {
      // A rule's canonical text parses back to the same rule (reloads compare rules by text).
      const std::string text = rule.text();
      const size_t space = text.find(' ');
      const auto again = cli::parse_rule(rule.kind, std::string_view(text).substr(space + 1));
      fuzz::check(again.text() == text, "rule text round trip");
    }
    cli::validate(config);
    if (config.key_file.empty() && config.password_file.empty()) cli::NodeOptions options(config);
  } catch (const cli::ConfigError&) {
  }
  return 0;
}
