#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "common/config.h"
#include "test_client.h"

using namespace ntm;
using namespace ntm::servers;

namespace {

std::filesystem::path write_file(const test::TempDir& dir, const std::string& text) {
  const auto p = dir.path / "server.conf";
  std::ofstream(p) << text;
  return p;
}

std::string load_error(const std::string& text) {
  test::TempDir dir;
  ServerOptions o;
  try {
    load_config_file(write_file(dir, text), o);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("config file sets options from key = value lines", "[servers][config]") {
  test::TempDir dir;
  ServerOptions o;
  load_config_file(write_file(dir,
                              "# comment\n"
                              "\n"
                              "state = /var/lib/ntm\n"
                              "domain = example.org\n"
                              "listen-as = 0.0.0.0:7800\n"
                              "listen-dc = 0.0.0.0:7801, [::]:7801\n"
                              "dc-public = 198.51.100.1:7801\n"
                              "relay = 198.51.100.2:7802,[2001:db8::2]:7802\n"
                              "relay = 198.51.100.3:7802\n"
                              "keepalive = 15\n"
                              "pool-v4 = 10.77.0.0/16\n"
                              "log-level = info\n"),
                   o);
  CHECK(o.state == "/var/lib/ntm");
  CHECK(o.domain == "example.org");
  CHECK(o.listen_dc.size() == 2);
  CHECK(o.dc_public.size() == 1);
  REQUIRE(o.relays.size() == 2);
  CHECK(o.relays[0].size() == 2);
  CHECK(o.keepalive_s == 15);
  CHECK(o.pools.v4_string() == "10.77.0.0/16");
  CHECK(o.log_level == log::Level::info);
  CHECK_NOTHROW(validate(o));
}

TEST_CASE("config errors name the file and line", "[servers][config]") {
  CHECK_THAT(load_error("state = /x\nnonsense\n"),
             Catch::Contains("server.conf:2: expected 'key = value'"));
  CHECK_THAT(load_error("colour = blue\n"), Catch::Contains(":1: unknown option 'colour'"));
  CHECK_THAT(load_error("\n\nlisten-dc = localhost\n"),
             Catch::Contains(":3: listen-dc: 'localhost' is not an address or host name with a port"));
  CHECK_THAT(load_error("keepalive = 0\n"), Catch::Contains(":1: keepalive:"));
  CHECK_THAT(load_error("pool-v4 = 10.0.0.1/8\n"), Catch::Contains("host bits must be zero"));
  CHECK_THAT(load_error("domain =\n"), Catch::Contains(":1: domain: missing value"));
  CHECK_THAT(load_error("log-level = loud\n"), Catch::Contains("log-level"));
}

TEST_CASE("config validation refuses a missing state dir, bad domains and duplicate families",
          "[servers][config]") {
  ServerOptions o;
  CHECK_THROWS_WITH(validate(o), Catch::Contains("state"));
  o.state = "/tmp/x";
  o.domain = "Example";
  CHECK_THROWS_WITH(validate(o), Catch::Contains("domain"));
  o.domain = "example.org";
  o.listen_dc = {Endpoint::v4({127, 0, 0, 1}, 1), Endpoint::v4({127, 0, 0, 2}, 1)};
  CHECK_THROWS_WITH(validate(o), Catch::Contains("listen-dc"));
}

TEST_CASE("a later source replaces list options, later lines accumulate", "[servers][config]") {
  ServerOptions o;
  OptionSink file(o);
  file.apply("listen-dc", "127.0.0.1:1");
  file.apply("listen-dc", "[::1]:1");
  CHECK(o.listen_dc.size() == 2);
  OptionSink flags(o);
  flags.apply("listen-dc", "127.0.0.1:2");
  REQUIRE(o.listen_dc.size() == 1);
  CHECK(o.listen_dc[0].port == 2);
}

TEST_CASE("config text read from a stream names its source and line in errors",
          "[servers][config]") {
  ServerOptions o;
  std::istringstream good("state = /var/lib/ntm\nkeepalive = 9\n");
  load_config_stream(good, "inline", o);
  CHECK(o.keepalive_s == 9);
  std::istringstream bad("# ok\nkeepalive = many\n");
  CHECK_THROWS_WITH(load_config_stream(bad, "inline", o), Catch::StartsWith("inline:2: "));
}
