// Address conversion and error raising for the native module.
#include "common.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ntmpy {

namespace {

uint16_t to_port(py::handle value) {
  long port = py::cast<long>(value);
  if (port < 0 || port > 65535) throw py::value_error("port must be 0-65535.");
  return static_cast<uint16_t>(port);
}

std::string to_host(py::handle value) {
  if (py::isinstance<py::bytes>(value)) return py::cast<std::string>(value);
  if (py::isinstance<py::str>(value)) return py::cast<std::string>(value);
  throw py::type_error("host must be str or bytes");
}

}  // namespace

SockAddr to_sockaddr(int family, py::handle address) {
  if (!py::isinstance<py::tuple>(address)) {
    throw py::type_error(family == AF_INET6
                             ? "AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])"
                             : "AF_INET address must be tuple, not " +
                                   std::string(py::str(py::type::handle_of(address).attr("__name__"))));
  }
  auto t = py::reinterpret_borrow<py::tuple>(address);
  SockAddr out;
  if (family == AF_INET) {
    if (t.size() != 2) throw py::type_error("AF_INET address must be a pair (host, port)");
    std::string host = to_host(t[0]);
    auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(to_port(t[1]));
    if (host.empty()) {
      in->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (host == "<broadcast>") {
      in->sin_addr.s_addr = htonl(INADDR_BROADCAST);
    } else if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) {
      raise_gai(EAI_NONAME);
    }
    out.length = sizeof(sockaddr_in);
    return out;
  }
  if (family == AF_INET6) {
    if (t.size() < 2 || t.size() > 4) {
      throw py::type_error("AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])");
    }
    std::string host = to_host(t[0]);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(to_port(t[1]));
    if (t.size() > 2) in6->sin6_flowinfo = htonl(py::cast<uint32_t>(t[2]));
    if (t.size() > 3) in6->sin6_scope_id = py::cast<uint32_t>(t[3]);
    if (host.empty()) {
      in6->sin6_addr = in6addr_any;
    } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) {
      raise_gai(EAI_NONAME);
    }
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  raise_errno(EAFNOSUPPORT);
}

py::object from_sockaddr(const sockaddr* addr, socklen_t length) {
  if (addr == nullptr || length == 0) return py::none();
  char text[INET6_ADDRSTRLEN] = {};
  if (addr->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return py::make_tuple(py::str(text), ntohs(in->sin_port));
  }
  if (addr->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return py::make_tuple(py::str(text), ntohs(in6->sin6_port), ntohl(in6->sin6_flowinfo),
                          in6->sin6_scope_id);
  }
  return py::none();
}

void raise_errno(int error) {
  errno = error;
  PyErr_SetFromErrno(PyExc_OSError);  // picks the subclass: ConnectionRefusedError, ...
  throw py::error_already_set();
}

void raise_timed_out() {
  py::object timeout = py::module_::import("socket").attr("timeout");
  PyErr_SetString(timeout.ptr(), "timed out");
  throw py::error_already_set();
}

void raise_gai(int code) {
  py::object gaierror = py::module_::import("socket").attr("gaierror");
  PyErr_SetObject(gaierror.ptr(), py::make_tuple(code, gai_strerror(code)).ptr());
  throw py::error_already_set();
}

void raise_ntm(int code, const char* message) {
  // The exception classes live in Python (ntmobile._errors) so they can mix in ValueError etc.
  py::object error = py::module_::import("ntmobile._errors").attr("error_for")(code, message);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
  throw py::error_already_set();
}

}  // namespace ntmpy
