// The BSD-mirror socket calls and the real-descriptor bridge, one Python function each. Every
// call that may wait runs without the GIL. Timeouts follow the socket module: timeout < 0
// blocks, 0 never waits (BlockingIOError), > 0 waits that many seconds (socket.timeout).
// While blocking on the main thread the wait wakes every 200 ms to run signal handlers, so
// Ctrl-C interrupts a blocked receive as it does on a plain socket.
#include <ntm.h>

#include <fcntl.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common.h"

namespace ntmpy {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kSignalCheckMs = 200;

struct Deadline {
  double timeout;  // < 0: none
  Clock::time_point at;
  explicit Deadline(double t)
      : timeout(t),
        at(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(t < 0 ? 0 : t))) {}
  // Milliseconds left (rounded up), -1 for no deadline, 0 when it has passed.
  int remaining_ms() const {
    if (timeout < 0) return -1;
    auto left = std::chrono::duration<double, std::milli>(at - Clock::now()).count();
    if (left <= 0) return 0;
    return left > 0x7fffffff ? 0x7fffffff : static_cast<int>(std::ceil(left));
  }
};

void check_signals() {
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

// Waits for events on a descriptor with poll_fn (ntm_poll for an ntm socket, ::poll for an OS
// descriptor); false when the deadline passes first. An error or hangup counts as ready (the
// following call reports it).
bool wait_ready_with(int (*poll_fn)(pollfd*, nfds_t, int), int fd, short events,
                     const Deadline& deadline) {
  const bool main = on_main_thread();
  for (;;) {
    int ms = deadline.remaining_ms();
    if (ms == 0) return false;
    if (main && (ms < 0 || ms > kSignalCheckMs)) ms = kSignalCheckMs;
    pollfd p{fd, events, 0};
    int r, err;
    {
      ReleasedGil release;
      r = poll_fn(&p, 1, ms);
      err = errno;
    }
    if (r > 0) return true;
    if (r < 0 && err != EINTR) raise_errno(err);
    check_signals();
  }
}

bool wait_ready(int fd, short events, const Deadline& deadline) {
  return wait_ready_with(ntm_poll, fd, events, deadline);
}

int os_poll(pollfd* fds, nfds_t count, int ms) { return ::poll(fds, count, ms); }

// Runs a call that may block, honouring the timeout. op(extra_flags) runs without the GIL and
// returns >= 0 or -1 with errno; extra_flags is MSG_DONTWAIT when the wait is done by polling.
template <class Op>
ssize_t run_io(int fd, short events, double timeout, Op op) {
  ssize_t n;
  int err;
  if (timeout < 0 && !on_main_thread()) {
    {
      ReleasedGil release;
      n = op(0);
      err = errno;
    }
    if (n < 0) raise_errno(err);
    return n;
  }
  if (timeout == 0) {
    {
      ReleasedGil release;
      n = op(MSG_DONTWAIT);
      err = errno;
    }
    if (n < 0) raise_errno(err);
    return n;
  }
  Deadline deadline(timeout);
  for (;;) {
    if (!wait_ready(fd, events, deadline)) raise_timed_out();
    {
      ReleasedGil release;
      n = op(MSG_DONTWAIT);
      err = errno;
    }
    if (n >= 0) return n;
    if (err != EAGAIN && err != EWOULDBLOCK) raise_errno(err);
  }
}

void check(int rc) {
  if (rc < 0) raise_errno(errno);
}

// Runs a quick ntm call without the GIL (it may wait for the stack's lock, which ntm_stop() can
// hold while the event thread waits for the GIL) and raises for -1 with its errno.
template <class F>
int call(F f) {
  int rc, err;
  {
    ReleasedGil release;
    rc = f();
    err = errno;
  }
  if (rc < 0) raise_errno(err);
  return rc;
}

py::object address_of(const sockaddr_storage& ss, socklen_t len) {
  return from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len);
}

// ---- socket calls --------------------------------------------------------------------------

int socket_(int family, int type, int proto) {
  return call([&] { return ntm_socket(family, type, proto); });
}

void close_(int fd) {
  int rc, err;
  {
    ReleasedGil release;
    rc = ntm_close(fd);
    err = errno;
  }
  if (rc != 0) raise_errno(err);
}

void bind_(int fd, int family, py::handle address) {
  SockAddr sa = to_sockaddr(family, address);
  call([&] { return ntm_bind(fd, sa.get(), sa.length); });
}

void listen_(int fd, int backlog) { call([&] { return ntm_listen(fd, backlog); }); }

// Connects with the socket's timeout: a non-blocking connect and a wait for writability.
void connect_(int fd, int family, py::handle address, double timeout) {
  SockAddr sa = to_sockaddr(family, address);
  int flags = ntm_fcntl(fd, F_GETFL, 0);
  check(flags);
  check(ntm_fcntl(fd, F_SETFL, flags | O_NONBLOCK));
  struct Restore {
    int fd, flags;
    ~Restore() { ntm_fcntl(fd, F_SETFL, flags); }
  } restore{fd, flags};
  int rc, err;
  {
    ReleasedGil release;
    rc = ntm_connect(fd, sa.get(), sa.length);
    err = errno;
  }
  if (rc == 0) return;
  if (err != EINPROGRESS && err != EALREADY && err != EWOULDBLOCK) raise_errno(err);
  if (timeout == 0) raise_errno(EINPROGRESS);
  if (!wait_ready(fd, POLLOUT, Deadline(timeout))) raise_timed_out();
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  call([&] { return ntm_getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len); });
  if (so_error != 0) raise_errno(so_error);
}

py::tuple accept_(int fd, double timeout) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  auto n = run_io(fd, POLLIN, timeout, [&](int dontwait) -> ssize_t {
    // ntm_accept has no flags: a non-waiting accept flips the descriptor for the call.
    if (!dontwait) return ntm_accept(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    int flags = ntm_fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -1;
    ntm_fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int c = ntm_accept(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    int saved = errno;
    ntm_fcntl(fd, F_SETFL, flags);
    errno = saved;
    return c;
  });
  return py::make_tuple(static_cast<int>(n), address_of(ss, len));
}

ssize_t send_(int fd, py::buffer data, int flags, double timeout) {
  py::buffer_info info = data.request();
  const char* bytes = static_cast<const char*>(info.ptr);
  size_t size = static_cast<size_t>(info.size * info.itemsize);
  return run_io(fd, POLLOUT, timeout, [&](int extra) {
    return ntm_send(fd, bytes, size, flags | extra | MSG_NOSIGNAL);
  });
}

ssize_t sendto_(int fd, py::buffer data, int flags, int family, py::handle address,
                double timeout) {
  SockAddr sa = to_sockaddr(family, address);
  py::buffer_info info = data.request();
  const char* bytes = static_cast<const char*>(info.ptr);
  size_t size = static_cast<size_t>(info.size * info.itemsize);
  return run_io(fd, POLLOUT, timeout, [&](int extra) {
    return ntm_sendto(fd, bytes, size, flags | extra, sa.get(), sa.length);
  });
}

py::bytes new_bytes(ssize_t size) {
  PyObject* o = PyBytes_FromStringAndSize(nullptr, size);
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::bytes>(o);
}

py::bytes shrink(py::bytes b, ssize_t size) {
  PyObject* o = b.release().ptr();
  if (_PyBytes_Resize(&o, size) != 0) throw py::error_already_set();
  return py::reinterpret_steal<py::bytes>(o);
}

py::bytes recv_(int fd, ssize_t bufsize, int flags, double timeout) {
  if (bufsize < 0) throw py::value_error("negative buffersize in recv");
  py::bytes out = new_bytes(bufsize);
  char* dest = PyBytes_AS_STRING(out.ptr());  // not shared yet: safe to fill without the GIL
  ssize_t n = run_io(fd, POLLIN, timeout, [&](int extra) {
    return ntm_recv(fd, dest, static_cast<size_t>(bufsize), flags | extra);
  });
  return n == bufsize ? out : shrink(std::move(out), n);
}

py::buffer_info writable(py::buffer buffer, ssize_t nbytes, const char* what) {
  py::buffer_info info = buffer.request(true);
  ssize_t capacity = info.size * info.itemsize;
  if (nbytes < 0) throw py::value_error(std::string("negative buffersize in ") + what);
  if (nbytes > capacity) throw py::value_error(std::string("buffer too small for requested bytes"));
  return info;
}

ssize_t recv_into_(int fd, py::buffer buffer, ssize_t nbytes, int flags, double timeout) {
  py::buffer_info info = writable(buffer, nbytes, "recv_into");
  size_t size = static_cast<size_t>(nbytes == 0 ? info.size * info.itemsize : nbytes);
  char* dest = static_cast<char*>(info.ptr);
  return run_io(fd, POLLIN, timeout,
                [&](int extra) { return ntm_recv(fd, dest, size, flags | extra); });
}

py::tuple recvfrom_(int fd, ssize_t bufsize, int flags, double timeout) {
  if (bufsize < 0) throw py::value_error("negative buffersize in recvfrom");
  py::bytes out = new_bytes(bufsize);
  char* dest = PyBytes_AS_STRING(out.ptr());
  sockaddr_storage ss{};
  socklen_t len = 0;
  ssize_t n = run_io(fd, POLLIN, timeout, [&](int extra) {
    len = sizeof(ss);
    return ntm_recvfrom(fd, dest, static_cast<size_t>(bufsize), flags | extra,
                        reinterpret_cast<sockaddr*>(&ss), &len);
  });
  py::bytes data = n == bufsize ? out : shrink(std::move(out), n);
  return py::make_tuple(data, address_of(ss, len));
}

py::tuple recvfrom_into_(int fd, py::buffer buffer, ssize_t nbytes, int flags, double timeout) {
  py::buffer_info info = writable(buffer, nbytes, "recvfrom_into");
  size_t size = static_cast<size_t>(nbytes == 0 ? info.size * info.itemsize : nbytes);
  char* dest = static_cast<char*>(info.ptr);
  sockaddr_storage ss{};
  socklen_t len = 0;
  ssize_t n = run_io(fd, POLLIN, timeout, [&](int extra) {
    len = sizeof(ss);
    return ntm_recvfrom(fd, dest, size, flags | extra, reinterpret_cast<sockaddr*>(&ss), &len);
  });
  return py::make_tuple(n, address_of(ss, len));
}

void shutdown_(int fd, int how) { call([&] { return ntm_shutdown(fd, how); }); }

void setsockopt_(int fd, int level, int name, py::object value) {
  if (py::isinstance<py::int_>(value)) {
    int v = py::cast<int>(value);
    call([&] { return ntm_setsockopt(fd, level, name, &v, sizeof(v)); });
    return;
  }
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(value).request();
  call([&] { return ntm_setsockopt(fd, level, name, info.ptr,
                       static_cast<socklen_t>(info.size * info.itemsize)); });
}

py::object getsockopt_(int fd, int level, int name, int buflen) {
  if (buflen <= 0) {
    int v = 0;
    socklen_t len = sizeof(v);
    call([&] { return ntm_getsockopt(fd, level, name, &v, &len); });
    return py::int_(v);
  }
  if (buflen > 1024) throw py::value_error("getsockopt buflen out of range");
  std::string buffer(static_cast<size_t>(buflen), '\0');
  socklen_t len = static_cast<socklen_t>(buflen);
  call([&] { return ntm_getsockopt(fd, level, name, buffer.data(), &len); });
  return py::bytes(buffer.data(), len);
}

py::object getsockname_(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  call([&] { return ntm_getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len); });
  return address_of(ss, len);
}

py::object getpeername_(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  call([&] { return ntm_getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len); });
  return address_of(ss, len);
}

// ntm_poll over [(fd, events)]; returns [(fd, revents)] for the ready ones, as select.poll().
py::list poll_(const std::vector<std::pair<int, short>>& fds, int timeout_ms) {
  std::vector<pollfd> p;
  p.reserve(fds.size());
  for (const auto& [fd, events] : fds) p.push_back({fd, events, 0});
  Deadline deadline(timeout_ms < 0 ? -1.0 : timeout_ms / 1000.0);
  const bool main = on_main_thread();
  int r = 0;
  for (;;) {
    int ms = deadline.remaining_ms();
    if (main && (ms < 0 || ms > kSignalCheckMs)) ms = kSignalCheckMs;
    int err;
    {
      ReleasedGil release;
      r = ntm_poll(p.data(), p.size(), ms);
      err = errno;
    }
    if (r < 0 && err != EINTR) raise_errno(err);
    if (r > 0 || deadline.remaining_ms() == 0) break;
    check_signals();
  }
  py::list out;
  for (const auto& e : p) {
    if (e.revents != 0) out.append(py::make_tuple(e.fd, e.revents));
  }
  return out;
}

int fcntl_(int fd, int cmd, int value) {
  int rc = ntm_fcntl(fd, cmd, value);
  check(rc);
  return rc;
}

py::list getaddrinfo_(std::optional<std::string> host, std::optional<std::string> port,
                      int family, int type, int proto, int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_protocol = proto;
  hints.ai_flags = flags;
  addrinfo* res = nullptr;
  int rc;
  {
    ReleasedGil release;
    rc = ntm_getaddrinfo(host ? host->c_str() : nullptr, port ? port->c_str() : nullptr, &hints,
                         &res);
  }
  if (rc != 0) raise_gai(rc);
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(res, ntm_freeaddrinfo);
  py::list out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    out.append(py::make_tuple(ai->ai_family, ai->ai_socktype, ai->ai_protocol,
                              py::str(ai->ai_canonname ? ai->ai_canonname : ""),
                              from_sockaddr(ai->ai_addr, ai->ai_addrlen)));
  }
  return out;
}

// ---- the real-descriptor bridge ------------------------------------------------------------

int bridge_socket_(int fd) {
  return call([&] { return ntm_bridge_socket(fd); });
}

int bridge_connect_(int family, py::handle address) {
  SockAddr sa = to_sockaddr(family, address);
  int fd, err;
  {
    ReleasedGil release;
    fd = ntm_bridge_connect(sa.get(), sa.length);
    err = errno;
  }
  if (fd < 0) raise_errno(err);
  return fd;
}

py::tuple bridge_accept_(int listen_fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int fd, err;
  {
    ReleasedGil release;
    fd = ntm_bridge_accept(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len);
    err = errno;
  }
  if (fd < 0) raise_errno(err);
  return py::make_tuple(fd, address_of(ss, len));
}

int bridge_listen_(int fd) {
  return call([&] { return ntm_bridge_listen(fd); });
}

// Accepts from an OS listener made by bridge_listen(); blocks unless it is non-blocking
// (BlockingIOError then). Interrupted waits run signal handlers and retry (PEP 475).
py::tuple bridge_accept_listener_(int os_fd) {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int fd, err;
    {
      ReleasedGil release;
      fd = ntm_bridge_accept_listener(os_fd, reinterpret_cast<sockaddr*>(&ss), &len);
      err = errno;
    }
    if (fd >= 0) return py::make_tuple(fd, address_of(ss, len));
    if (err != EINTR) raise_errno(err);
    check_signals();
  }
}

// TCP options of the virtual connection behind a bridged OS descriptor (an int or a buffer).
void bridge_setsockopt_(int os_fd, int level, int name, py::object value) {
  if (py::isinstance<py::int_>(value)) {
    int v = py::cast<int>(value);
    call([&] { return ntm_bridge_setsockopt(os_fd, level, name, &v, sizeof(v)); });
    return;
  }
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(value).request();
  call([&] { return ntm_bridge_setsockopt(os_fd, level, name, info.ptr,
                                          static_cast<socklen_t>(info.size * info.itemsize)); });
}

py::object bridge_getsockopt_(int os_fd, int level, int name, int buflen) {
  int v = 0;
  socklen_t len = sizeof(v);
  call([&] { return ntm_bridge_getsockopt(os_fd, level, name, &v, &len); });
  if (buflen <= 0) return py::int_(v);
  std::string buffer(static_cast<size_t>(buflen), '\0');
  std::memcpy(buffer.data(), &v, std::min(sizeof(v), buffer.size()));
  return py::bytes(buffer.data(), std::min(sizeof(v), buffer.size()));
}

// ---- the datagram bridge -------------------------------------------------------------------

int bridge_datagram_(int fd) {
  return call([&] { return ntm_bridge_datagram(fd); });
}

// Receives one datagram from a bridged datagram descriptor, waiting up to timeout seconds (< 0:
// forever, 0: not at all - BlockingIOError) in C, without the GIL: the wait and the read cost
// the same two calls as an ntm socket's receive (poll, then a non-blocking read).
template <class Op>
ssize_t run_bridged(int os_fd, double timeout, Op op) {
  Deadline deadline(timeout);
  for (;;) {
    if (timeout != 0 && !wait_ready_with(os_poll, os_fd, POLLIN, deadline)) raise_timed_out();
    ssize_t n;
    int err;
    {
      ReleasedGil release;
      n = op();
      err = errno;
    }
    if (n >= 0) return n;
    if (timeout == 0 || (err != EAGAIN && err != EWOULDBLOCK)) raise_errno(err);
  }
}

py::tuple bridge_recvfrom_(int os_fd, ssize_t bufsize, int flags, double timeout) {
  if (bufsize < 0) throw py::value_error("negative buffersize in recvfrom");
  py::bytes out = new_bytes(bufsize);
  char* dest = PyBytes_AS_STRING(out.ptr());
  sockaddr_storage ss{};
  socklen_t len = 0;
  ssize_t n = run_bridged(os_fd, timeout, [&] {
    len = sizeof(ss);
    return ntm_bridge_recvfrom(os_fd, dest, static_cast<size_t>(bufsize), flags | MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&ss), &len);
  });
  n = std::min(n, bufsize);  // MSG_TRUNC reports the whole size
  py::bytes data = n == bufsize ? out : shrink(std::move(out), n);
  return py::make_tuple(data, address_of(ss, len));
}

py::tuple bridge_recvfrom_into_(int os_fd, py::buffer buffer, ssize_t nbytes, int flags,
                                double timeout) {
  py::buffer_info info = writable(buffer, nbytes, "recvfrom_into");
  size_t size = static_cast<size_t>(nbytes == 0 ? info.size * info.itemsize : nbytes);
  sockaddr_storage ss{};
  socklen_t len = 0;
  ssize_t n = run_bridged(os_fd, timeout, [&] {
    len = sizeof(ss);
    return ntm_bridge_recvfrom(os_fd, info.ptr, size, flags | MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&ss), &len);
  });
  return py::make_tuple(n, address_of(ss, len));
}

}  // namespace

void register_sockets(py::module_& m) {
  using py::arg;
  m.def("socket", &socket_, arg("family"), arg("type"), arg("proto") = 0);
  m.def("close", &close_, arg("fd"));
  m.def("bind", &bind_, arg("fd"), arg("family"), arg("address"));
  m.def("listen", &listen_, arg("fd"), arg("backlog"));
  m.def("connect", &connect_, arg("fd"), arg("family"), arg("address"), arg("timeout") = -1.0);
  m.def("accept", &accept_, arg("fd"), arg("timeout") = -1.0);
  m.def("send", &send_, arg("fd"), arg("data"), arg("flags") = 0, arg("timeout") = -1.0);
  m.def("sendto", &sendto_, arg("fd"), arg("data"), arg("flags"), arg("family"), arg("address"),
        arg("timeout") = -1.0);
  m.def("recv", &recv_, arg("fd"), arg("bufsize"), arg("flags") = 0, arg("timeout") = -1.0);
  m.def("recv_into", &recv_into_, arg("fd"), arg("buffer"), arg("nbytes") = 0, arg("flags") = 0,
        arg("timeout") = -1.0);
  m.def("recvfrom", &recvfrom_, arg("fd"), arg("bufsize"), arg("flags") = 0,
        arg("timeout") = -1.0);
  m.def("recvfrom_into", &recvfrom_into_, arg("fd"), arg("buffer"), arg("nbytes") = 0,
        arg("flags") = 0, arg("timeout") = -1.0);
  m.def("shutdown", &shutdown_, arg("fd"), arg("how"));
  m.def("setsockopt", &setsockopt_, arg("fd"), arg("level"), arg("option"), arg("value"));
  m.def("getsockopt", &getsockopt_, arg("fd"), arg("level"), arg("option"), arg("buflen") = 0);
  m.def("getsockname", &getsockname_, arg("fd"));
  m.def("getpeername", &getpeername_, arg("fd"));
  m.def("poll", &poll_, arg("fds"), arg("timeout_ms") = -1);
  m.def("fcntl", &fcntl_, arg("fd"), arg("cmd"), arg("value") = 0);
  m.def("getaddrinfo", &getaddrinfo_, arg("host"), arg("port"), arg("family") = 0,
        arg("type") = 0, arg("proto") = 0, arg("flags") = 0);
  m.def("bridge_socket", &bridge_socket_, arg("fd"));
  m.def("bridge_connect", &bridge_connect_, arg("family"), arg("address"));
  m.def("bridge_accept", &bridge_accept_, arg("listen_fd"));
  m.def("bridge_listen", &bridge_listen_, arg("fd"));
  m.def("bridge_accept_listener", &bridge_accept_listener_, arg("os_listen_fd"));
  m.def("bridge_setsockopt", &bridge_setsockopt_, arg("os_fd"), arg("level"), arg("option"),
        arg("value"));
  m.def("bridge_getsockopt", &bridge_getsockopt_, arg("os_fd"), arg("level"), arg("option"),
        arg("buflen") = 0);
  m.def("bridge_datagram", &bridge_datagram_, arg("fd"));
  m.def("bridge_recvfrom", &bridge_recvfrom_, arg("os_fd"), arg("bufsize"), arg("flags") = 0,
        arg("timeout") = 0.0);
  m.def("bridge_recvfrom_into", &bridge_recvfrom_into_, arg("os_fd"), arg("buffer"),
        arg("nbytes") = 0, arg("flags") = 0, arg("timeout") = 0.0);
}

}  // namespace ntmpy
