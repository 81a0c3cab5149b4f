// Shared helpers of the native module: socket address conversion between Python tuples and
// sockaddrs, and the errors it raises (standard OSError subclasses, socket.gaierror, and
// ntmobile's own exceptions for the NTM_E* codes of the node calls).
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <sys/socket.h>

namespace ntmpy {

namespace py = pybind11;

// A socket address built from a Python tuple, ready for the C ABI.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// ("1.2.3.4", port) for AF_INET, ("::1", port[, flowinfo[, scope_id]]) for AF_INET6. The host
// must be numeric ("" is the wildcard): names are resolved by the Python layer first.
SockAddr to_sockaddr(int family, py::handle address);

// The Python tuple for a sockaddr, shaped as the socket module does; None for an empty one.
py::object from_sockaddr(const sockaddr* addr, socklen_t length);

// Raises the OSError subclass for an errno value (ConnectionRefusedError, TimeoutError...).
[[noreturn]] void raise_errno(int error);

// Raises socket.timeout ("timed out"), as a socket with a timeout does.
[[noreturn]] void raise_timed_out();

// Raises socket.gaierror for an EAI_* code.
[[noreturn]] void raise_gai(int code);

// Raises ntmobile's exception for a negative NTM_E* code with the library's message.
[[noreturn]] void raise_ntm(int code, const char* message);

// Registers the socket and node functions on the module.
void register_sockets(py::module_& m);
void register_node(py::module_& m);
void register_logging(py::module_& m);

// True on the interpreter's main thread (the one that runs signal handlers).
bool on_main_thread();

// Releases the GIL for a scope, like py::gil_scoped_release, except that it may end the thread
// when it takes the GIL back. A daemon thread that returns from a call while the interpreter
// finalizes is ended by CPython inside PyEval_RestoreThread (pthread_exit, an unwinding); from
// py::gil_scoped_release's noexcept destructor that unwinding calls std::terminate, so a program
// that exits while a daemon thread is in an ntmobile call would abort instead of exiting.
class ReleasedGil {
 public:
  ReleasedGil() : state_(PyEval_SaveThread()) {}
  ~ReleasedGil() noexcept(false) { PyEval_RestoreThread(state_); }
  ReleasedGil(const ReleasedGil&) = delete;
  ReleasedGil& operator=(const ReleasedGil&) = delete;

 private:
  PyThreadState* state_;
};

// True once the interpreter is shutting down: library threads must not take the GIL then.
inline bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

}  // namespace ntmpy
