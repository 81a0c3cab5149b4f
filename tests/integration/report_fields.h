// Reading the test nodes' report lines ("KIND key=value ... msg=free text") in the drivers.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

namespace ntm::test {

using Fields = std::map<std::string, std::string>;

// "KIND a=1 b=2 msg=free text" -> {"": KIND, a: 1, b: 2, msg: "free text"}.
inline Fields parse(const std::string &line) {
  Fields f;
  std::istringstream in(line);
  std::string token;
  in >> f[""];
  while (in >> token) {
    auto eq = token.find('=');
    if (eq == std::string::npos) continue;
    std::string key = token.substr(0, eq);
    if (key == "msg") {
      std::string rest;
      std::getline(in, rest);
      f[key] = token.substr(eq + 1) + rest;
      break;
    }
    f[key] = token.substr(eq + 1);
  }
  return f;
}

// The integer value of a field; a missing or non-numeric field fails the test.
inline long long num(const Fields &f, const std::string &key) {
  auto it = f.find(key);
  long long value = 0;
  bool ok = it != f.end() && !it->second.empty();
  if (ok) {
    char *end = nullptr;
    value = std::strtoll(it->second.c_str(), &end, 10);
    ok = *end == '\0';
  }
  if (!ok) FAIL("field " << key << " missing or not a number: " << (it == f.end() ? "" : it->second));
  return value;
}

inline std::string str(const Fields &f, const std::string &key) {
  auto it = f.find(key);
  return it == f.end() ? std::string("<missing>") : it->second;
}

}  // namespace ntm::test
