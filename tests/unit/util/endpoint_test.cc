#include <catch2/catch.hpp>

#include <sys/socket.h>

#include "util/endpoint.h"

using ntm::Endpoint;

TEST_CASE("endpoint parses IPv4 and bracketed IPv6 with ports", "[util]") {
  auto v4 = Endpoint::parse("127.0.0.1:4500");
  REQUIRE(v4);
  CHECK(v4->is_v4());
  CHECK(v4->port == 4500);
  CHECK(v4->to_string() == "127.0.0.1:4500");
  auto v6 = Endpoint::parse("[::1]:80");
  REQUIRE(v6);
  CHECK(v6->is_v6());
  CHECK(v6->to_string() == "[::1]:80");
}

TEST_CASE("endpoint rejects malformed text", "[util]") {
  CHECK_FALSE(Endpoint::parse(""));
  CHECK_FALSE(Endpoint::parse("127.0.0.1"));
  CHECK_FALSE(Endpoint::parse("127.0.0.1:"));
  CHECK_FALSE(Endpoint::parse("127.0.0.1:65536"));
  CHECK_FALSE(Endpoint::parse("::1:80"));
  CHECK_FALSE(Endpoint::parse("[::1]80"));
  CHECK_FALSE(Endpoint::parse("example.com:80"));
}

TEST_CASE("endpoint round-trips through sockaddr", "[util]") {
  auto e = *Endpoint::parse("[2001:db8::7]:9");
  sockaddr_storage ss;
  e.to_sockaddr(ss);
  auto back = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
  REQUIRE(back);
  CHECK(*back == e);
}
