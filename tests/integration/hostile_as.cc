// ntm-hostile-as: an Account Server that closes connections in every awkward way a broken,
// overloaded or hostile AS (or a middlebox) can, for the SIGPIPE tests of the C library and of
// every binding. It listens on 127.0.0.1 (a free port) with a fresh self-signed certificate and
// prints
//   READY endpoint=127.0.0.1:PORT cert=PATH
// then serves connections, one thread each, until SIGTERM/SIGINT or --timeout. On exit it prints
// "SERVED connections=N" and removes its temporary directory.
//
//   ntm-hostile-as [--mode MODE] [--timeout SECONDS]
// Modes (per connection; "mixed", the default, cycles through all of them):
//   respond-fin-rst  TLS handshake, read the request, answer "server error", send FIN, then
//                    RST: the client's socket has EPIPE pending when it sends close_notify
//   handshake-fin    TLS handshake, then FIN without reading the request
//   handshake-rst    TLS handshake, then RST
//   hello-rst        read the ClientHello, then RST
//   accept-fin       close at once (FIN)
//   accept-rst       close at once (RST)
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "as/tls.h"
#include "control/login.h"
#include "io/unique_fd.h"
#include "util/endpoint.h"

namespace {

namespace fs = std::filesystem;
namespace tls = ntm::servers::tls;
using ntm::io::UniqueFd;

const std::vector<std::string> kModes = {"respond-fin-rst", "handshake-fin", "handshake-rst",
                                          "hello-rst",       "accept-fin",    "accept-rst"};

volatile sig_atomic_t g_stop = 0;

void reset(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

bool read_exact(SSL* ssl, uint8_t* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    size_t got = 0;
    if (SSL_read_ex(ssl, out + done, size - done, &got) != 1) return false;
    done += got;
  }
  return true;
}

// Reads one login frame (length u32 | type | body); false if the client went away.
bool read_request(SSL* ssl) {
  uint8_t length_bytes[4];
  if (!read_exact(ssl, length_bytes, 4)) return false;
  auto length = ntm::control::decode_frame_length(length_bytes);
  if (!length) return false;
  std::vector<uint8_t> rest(length.value());
  return read_exact(ssl, rest.data(), rest.size());
}

void serve(SSL_CTX* ctx, UniqueFd conn, const std::string& mode) {
  const int fd = conn.get();
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (mode == "accept-fin") return;  // conn closes
  if (mode == "accept-rst") {
    reset(fd);
    return;
  }
  if (mode == "hello-rst") {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) == 1) {
      uint8_t some[64];
      (void)!::recv(fd, some, sizeof some, 0);  // part of the ClientHello; the rest stays unread
    }
    reset(fd);
    return;
  }
  tls::SslPtr ssl(SSL_new(ctx));
  if (!ssl) return;
  SSL_set_fd(ssl.get(), fd);
  // Our own writes could meet a client that is gone: never raise SIGPIPE here either.
  if (SSL_accept(ssl.get()) != 1) return;
  if (mode == "handshake-fin") return;
  if (mode == "handshake-rst") {
    reset(fd);
    return;
  }
  // respond-fin-rst
  if (!read_request(ssl.get())) return;
  ntm::control::LoginResponse response;
  response.status = ntm::control::LoginStatus::server_error;
  response.message = "hostile AS closes now";
  auto frame = ntm::control::encode_login_response_frame(response);
  size_t written = 0;
  if (SSL_write_ex(ssl.get(), frame.data(), frame.size(), &written) != 1) return;
  ::shutdown(fd, SHUT_WR);  // FIN: the client's socket goes to CLOSE_WAIT
  reset(fd);                // then RST: its pending error becomes EPIPE
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "mixed";
  unsigned timeout_s = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--mode") {
      mode = argv[i + 1];
    } else if (opt == "--timeout") {
      timeout_s = static_cast<unsigned>(std::stoul(argv[i + 1]));
    } else {
      fprintf(stderr, "usage: ntm-hostile-as [--mode MODE|mixed] [--timeout SECONDS]\n");
      return 2;
    }
  }
  if (mode != "mixed" && std::find(kModes.begin(), kModes.end(), mode) == kModes.end()) {
    fprintf(stderr, "ntm-hostile-as: unknown mode %s\n", mode.c_str());
    return 2;
  }
  // A connection this server writes to may be gone already; the process must survive it.
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction stop{};
  stop.sa_handler = [](int) { g_stop = 1; };
  ::sigaction(SIGTERM, &stop, nullptr);
  ::sigaction(SIGINT, &stop, nullptr);
  char tmpl[] = "/tmp/ntm-hostile-as-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    perror("mkdtemp");
    return 1;
  }
  const fs::path dir = tmpl;
  int rc = 0;
  try {
    tls::ensure_identity(dir / "as.pem", dir / "as.key", "hostile-as");
    auto ctx = tls::make_server_context(dir / "as.pem", dir / "as.key");
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (!listener || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener.get(), 256) != 0 ||
        ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    printf("READY endpoint=127.0.0.1:%u cert=%s\n", ntohs(a.sin_port), (dir / "as.pem").c_str());
    fflush(stdout);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    std::vector<std::thread> workers;
    size_t served = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (g_stop) break;
      pollfd p{listener.get(), POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      const std::string m = mode == "mixed" ? kModes[served % kModes.size()] : mode;
      ++served;
      workers.emplace_back(serve, ctx.get(), std::move(conn), m);
    }
    for (auto& w : workers) w.join();
    printf("SERVED connections=%zu\n", served);
  } catch (const std::exception& e) {
    fprintf(stderr, "ntm-hostile-as: %s\n", e.what());
    rc = 1;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return rc;
}
