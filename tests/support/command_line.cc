// The node programs' command lines: see command_line.h.
#include "command_line.h"

#include <cstdlib>
#include <stdexcept>

namespace ntm_test {

CommandLine::CommandLine(const char *program, void (*usage)(FILE *))
    : program_(program), usage_(usage) {}

CommandLine &CommandLine::flag(const std::string &name, std::function<void()> set) {
  flags_[name] = std::move(set);
  return *this;
}

CommandLine &CommandLine::option(const std::string &name,
                                 std::function<void(const std::string &)> set) {
  options_[name] = std::move(set);
  return *this;
}

bool CommandLine::parse(node_args *node, int argc, char **argv, int first) const {
  if (node_args_init(node) != 0) return false;
  auto complain = [&](const char *what, const char *text) {
    fprintf(stderr, "%s: %s %s\n", program_, what, text);
    if (usage_ != nullptr) usage_(stderr);
    return false;
  };
  for (int i = first; i < argc;) {
    int used = node_args_consume(node, program_, argc, argv, &i);
    if (used < 0) return false;
    if (used > 0) continue;
    const std::string opt = argv[i];
    if (auto flag = flags_.find(opt); flag != flags_.end()) {
      flag->second();
      ++i;
      continue;
    }
    auto option = options_.find(opt);
    if (option == options_.end()) return complain("unknown option", argv[i]);
    if (i + 1 >= argc) return complain("missing value for", argv[i]);
    const std::string value = argv[i + 1];
    try {
      option->second(value);
    } catch (const std::exception &) {
      fprintf(stderr, "%s: bad value for %s: '%s'\n", program_, opt.c_str(), value.c_str());
      return false;
    }
    i += 2;
  }
  return node_args_check(node, program_) == 0;
}

bool CommandLine::parse_run(NodeRun &run, int argc, char **argv) const {
  if (argc < 2 || argv[1][0] == '-') {
    if (usage_ != nullptr) usage_(stderr);
    return false;
  }
  run.scenario = argv[1];
  return parse(&run.node, argc, argv, 2);
}

void add_run_options(CommandLine &cl, NodeRun &run) {
  cl.option("--role", [&run](const std::string &v) { run.role = v; });
  cl.option("--connect", [&run](const std::string &v) { run.connect = v; });
  cl.option("--timeout",
            [&run](const std::string &v) { run.timeout_s = static_cast<unsigned>(std::stoul(v)); });
}

double parse_number(const std::string &text) {
  char *end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !(value >= 0)) {
    throw std::invalid_argument("not a non-negative number: " + text);
  }
  return value;
}

}  // namespace ntm_test
