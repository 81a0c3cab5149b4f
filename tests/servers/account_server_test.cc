#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <ctime>
#include <thread>

#include "as_fixture.h"
#include "control/certificate.h"
#include "control/ticket.h"

using namespace ntm;
using namespace ntm::servers;
using control::LoginStatus;
using namespace std::chrono_literals;

namespace {

// The AS with sessions of an hour and `burst` failed logins allowed per address.
struct AsFixture : test::AsUnderTest {
  explicit AsFixture(unsigned burst = 10,
                     const std::function<void(AccountServerConfig&)>& tune = {})
      : test::AsUnderTest([&](AccountServerConfig& c) {
          c.session_lifetime = std::chrono::seconds(3600);
          c.failed_login_burst = burst;
          if (tune) tune(c);
        }) {}
};

}  // namespace

TEST_CASE("AS: a good password logs in and gets a certificate, ticket and DC endpoints",
          "[servers][as]") {
  AsFixture f;
  const auto alice = f.accounts.add_password_account("alice", "pw");
  auto r = f.login("alice", "pw");
  REQUIRE(r.tls_ok);
  REQUIRE(r.response);
  REQUIRE(r.response->status == LoginStatus::ok);
  const auto& g = *r.response->grant;
  CHECK(g.node_id == alice.node_id);
  CHECK(g.fqdn == "alice.example");
  CHECK(g.dc == std::vector<Endpoint>{Endpoint::v4({127, 0, 0, 1}, 7801)});
  CHECK(g.as_sign_public == crypto::ed25519_public_from_private(f.sign_key));
  const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
  CHECK(g.expires_unix > now + 3500);
  CHECK(g.expires_unix <= now + 3601);

  auto cert = control::decode_certificate(g.certificate);
  REQUIRE(cert.ok());
  CHECK(control::verify(*cert, g.as_sign_public, now));
  CHECK(cert->node_id == g.node_id);
  CHECK(cert->fqdn == "alice.example");
  CHECK(cert->static_public == test::fake_static_key(1));

  auto ticket = control::open_ticket(f.ticket_key, g.ticket);
  REQUIRE(ticket);
  CHECK(ticket->node_id == g.node_id);
  CHECK(ticket->session_key == g.session_key);
  CHECK(ticket->certificate == g.certificate);
  CHECK(ticket->expires_unix == g.expires_unix);
}

TEST_CASE("AS: wrong password and unknown account get the same refusal", "[servers][as]") {
  AsFixture f;
  f.accounts.add_password_account("alice", "pw");
  auto wrong = f.login("alice", "nope");
  REQUIRE(wrong.response);
  CHECK(wrong.response->status == LoginStatus::bad_credentials);
  CHECK_FALSE(wrong.response->grant);
  CHECK_THAT(wrong.response->message, Catch::Contains("wrong account name"));
  auto unknown = f.login("mallory", "pw");
  REQUIRE(unknown.response);
  CHECK(unknown.response->status == LoginStatus::bad_credentials);
  CHECK(unknown.response->message == wrong.response->message);
  auto invalid = f.login("NOT A NAME", "pw");
  REQUIRE(invalid.response);
  CHECK(invalid.response->status == LoginStatus::bad_credentials);
}

TEST_CASE("AS: a disabled account is refused with its own status", "[servers][as]") {
  AsFixture f;
  f.accounts.add_password_account("bob", "pw");
  f.accounts.set_disabled("bob", true);
  auto r = f.login("bob", "pw");
  REQUIRE(r.response);
  CHECK(r.response->status == LoginStatus::account_disabled);
  CHECK_THAT(r.response->message, Catch::Contains("disabled"));
  // Without the right password a disabled account looks like any failure.
  CHECK(f.login("bob", "wrong").response->status == LoginStatus::bad_credentials);
}

TEST_CASE("AS: an enrollment token works once per device; reuse elsewhere is refused",
          "[servers][as]") {
  AsFixture f;
  auto [info, token] = f.accounts.add_token_account("carol");
  auto first = f.login("carol", token, 7);
  REQUIRE(first.response);
  CHECK(first.response->status == LoginStatus::ok);
  auto other_device = f.login("carol", token, 8);
  REQUIRE(other_device.response);
  CHECK(other_device.response->status == LoginStatus::bad_credentials);
  CHECK_THAT(other_device.response->message, Catch::Contains("already used"));
  auto same_device = f.login("carol", token, 7);
  REQUIRE(same_device.response);
  CHECK(same_device.response->status == LoginStatus::ok);
}

TEST_CASE("AS: the generated TLS certificate is a server certificate, not a CA", "[servers][as]") {
  AsFixture f;
  auto bio = tls::BioPtr(BIO_new_file(f.state.file(kTlsCertFile).c_str(), "r"));
  REQUIRE(bio);
  tls::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(cert);
  CHECK(X509_check_ca(cert.get()) == 0);
  CHECK((X509_get_key_usage(cert.get()) & KU_KEY_CERT_SIGN) == 0);
  CHECK((X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER) != 0);
  // And clients pinning it still verify it.
  f.accounts.add_password_account("alice", "pw");
  CHECK(f.login("alice", "pw").response->status == LoginStatus::ok);
}

TEST_CASE("AS: the client refuses a server whose certificate is not the pinned one",
          "[servers][as]") {
  AsFixture f;
  f.accounts.add_password_account("alice", "pw");
  test::TempDir other;
  tls::ensure_identity(other.path / "c.pem", other.path / "k.pem", "as.other");
  auto r = test::tls_login(f.server->local_endpoint(), other.path / "c.pem",
                           {"alice", "pw", test::fake_static_key(1)});
  CHECK_FALSE(r.tls_ok);
  CHECK_THAT(r.tls_error, Catch::Contains("certificate verify failed"));
  CHECK_FALSE(r.response);
}

TEST_CASE("AS: a malformed request gets bad_request", "[servers][as]") {
  AsFixture f;
  // A frame of the right type with a truncated body.
  auto r = test::tls_exchange(f.server->local_endpoint(), f.state.file(kTlsCertFile),
                              control::encode_frame(control::MessageType::login_request,
                                                    control::Bytes{0, 5, 'a'}));
  REQUIRE(r.response);
  CHECK(r.response->status == LoginStatus::bad_request);
  // A response frame sent to the server.
  auto wrong_type = test::tls_exchange(
      f.server->local_endpoint(), f.state.file(kTlsCertFile),
      control::encode_login_response_frame({LoginStatus::ok, "", control::LoginGrant{}}));
  REQUIRE(wrong_type.response);
  CHECK(wrong_type.response->status == LoginStatus::bad_request);
  // An all-zero static key.
  auto zero = test::tls_login(f.server->local_endpoint(), f.state.file(kTlsCertFile),
                              {"alice", "pw", control::Key32{}});
  REQUIRE(zero.response);
  CHECK(zero.response->status == LoginStatus::bad_request);
}

TEST_CASE("AS: repeated failed logins from one address are rate limited", "[servers][as]") {
  AsFixture f(3);
  f.accounts.add_password_account("alice", "pw");
  for (int i = 0; i < 3; ++i)
    CHECK(f.login("alice", "bad").response->status == LoginStatus::bad_credentials);
  auto limited = f.login("alice", "pw");
  REQUIRE(limited.response);
  CHECK(limited.response->status == LoginStatus::rate_limited);
  CHECK_THAT(limited.response->message, Catch::Contains("retry in"));
}

TEST_CASE("AS: 100 guesses for one account from 20 addresses do not all reach the password check",
          "[servers][as]") {
  // A lock far longer than the loop takes even under a sanitizer: the check below of the right
  // password must not land just after a short lock ended (the doubling is AccountBackoff's test).
  AsFixture f(10, [](AccountServerConfig& c) { c.account_lock_base = 60s; });
  f.accounts.add_password_account("alice", "pw");
  int checked = 0, limited = 0;
  for (int i = 0; i < 100; ++i) {
    // Each address stays far below its own limit (5 tries each, burst 10).
    const auto source = Endpoint::v4({127, 0, 0, static_cast<uint8_t>(2 + i % 20)}, 0);
    auto r = test::tls_login(f.server->local_endpoint(), f.state.file(kTlsCertFile),
                             {"alice", "guess" + std::to_string(i), test::fake_static_key(1)},
                             source);
    REQUIRE(r.response);
    if (r.response->status == LoginStatus::bad_credentials) ++checked;
    if (r.response->status == LoginStatus::rate_limited) ++limited;
  }
  // 5 free failures, then none while the account is locked.
  CHECK(checked == 5);
  CHECK(checked + limited == 100);
  // While locked even the right password is refused (the answer tells a guesser nothing)...
  auto locked = f.login("alice", "pw");
  REQUIRE(locked.response);
  CHECK(locked.response->status == LoginStatus::rate_limited);
  CHECK_THAT(locked.response->message, Catch::Contains("for this account"));
  // ...and other accounts are not affected.
  f.accounts.add_password_account("bob", "pw");
  CHECK(f.login("bob", "pw").response->status == LoginStatus::ok);
}

TEST_CASE("account backoff locks after the free failures, doubles, and resets on success",
          "[servers][as]") {
  AccountBackoff b(3, std::chrono::milliseconds(1000), std::chrono::milliseconds(5000));
  const auto t0 = AccountBackoff::Clock::now();
  std::chrono::milliseconds retry{0};
  for (int i = 0; i < 2; ++i) b.record_failure("alice", t0);
  CHECK(b.allowed("alice", t0, retry));
  b.record_failure("alice", t0);  // the third: locked for 1 s
  CHECK_FALSE(b.allowed("alice", t0, retry));
  CHECK(retry == std::chrono::milliseconds(1000));
  CHECK(b.allowed("bob", t0, retry));
  CHECK(b.allowed("alice", t0 + std::chrono::milliseconds(1000), retry));
  b.record_failure("alice", t0 + std::chrono::milliseconds(1000));  // 2 s
  CHECK_FALSE(b.allowed("alice", t0 + std::chrono::milliseconds(2999), retry));
  for (int i = 0; i < 10; ++i) b.record_failure("alice", t0 + std::chrono::milliseconds(3000));
  CHECK_FALSE(b.allowed("alice", t0 + std::chrono::milliseconds(7999), retry));  // capped at 5 s
  CHECK(b.allowed("alice", t0 + std::chrono::milliseconds(8000), retry));
  b.record_success("alice");
  b.record_failure("alice", t0 + std::chrono::milliseconds(9000));
  CHECK(b.allowed("alice", t0 + std::chrono::milliseconds(9000), retry));  // counting anew
}

TEST_CASE("AS: several clients log in at once", "[servers][as]") {
  AsFixture f;
  f.accounts.add_password_account("alice", "pw");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      auto r = f.login("alice", "pw");
      if (r.response && r.response->status == LoginStatus::ok) ++ok;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 6);
}

TEST_CASE("AS: stop() returns promptly while a client holds a connection open",
          "[servers][as]") {
  AsFixture f;
  test::UdpSocket unused;  // keep the fixture's order of construction simple
  io::UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_storage ss{};
  const unsigned len = f.server->local_endpoint().to_sockaddr(ss);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0);
  std::this_thread::sleep_for(100ms);  // a worker is now blocked in the TLS handshake
  const auto t0 = std::chrono::steady_clock::now();
  f.server->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}
