// The command lines of the node programs: a first word (scenario or role), then the examples'
// NODE-OPTIONS (examples/c/node_args.h) mixed with the program's own flags and "--name VALUE"
// options, each declared once with what it sets.
//
//   struct Config : NodeRun { int family = AF_INET; unsigned short port = 5000; } cfg;
//   CommandLine cl("ntm-x", usage);
//   add_run_options(cl, cfg);
//   cl.flag("-6", [&] { cfg.family = AF_INET6; });
//   cl.option("--port", [&](const std::string &v) { cfg.port = std::stoul(v); });
//   if (!cl.parse_run(cfg, argc, argv)) return 2;
#pragma once

#include "node_args.h"

#include <cstdio>
#include <functional>
#include <map>
#include <string>

namespace ntm_test {

// What a node program's run is: its scenario (the first word), role, node options (the
// examples' NODE-OPTIONS), the peer it connects to and how long it may take at most.
struct NodeRun {
  std::string scenario;
  std::string role = "client";
  node_args node{};
  std::string connect;  // NAME:PORT
  unsigned timeout_s = 120;
};

class CommandLine {
 public:
  // `usage` (may be null) prints the program's usage; it follows each complaint on stderr.
  CommandLine(const char *program, void (*usage)(FILE *));

  // A flag without a value, e.g. "-6".
  CommandLine &flag(const std::string &name, std::function<void()> set);
  // "--name VALUE": `set` parses VALUE and throws (std::stoul...) when it is not valid.
  CommandLine &option(const std::string &name, std::function<void(const std::string &)> set);

  // node_args_init(node), then argv[first..]: node options into `node`, the declared ones through
  // their setters; then node_args_check. Returns false after saying what is wrong on stderr (an
  // unknown option, a missing or bad value): the program then exits with status 2.
  bool parse(node_args *node, int argc, char **argv, int first) const;

  // argv[1] is the run's scenario (a missing one, or an option in its place, is a usage error);
  // then parse(&run.node, argc, argv, 2).
  bool parse_run(NodeRun &run, int argc, char **argv) const;

 private:
  const char *program_;
  void (*usage_)(FILE *);
  std::map<std::string, std::function<void()>> flags_;
  std::map<std::string, std::function<void(const std::string &)>> options_;
};

// Declares --role, --connect and --timeout SECONDS for `run`.
void add_run_options(CommandLine &cl, NodeRun &run);

// A non-negative number (strtod's syntax, all of `text`); throws std::invalid_argument otherwise,
// where std::stoul would take "-1" or "5x".
double parse_number(const std::string &text);

}  // namespace ntm_test
