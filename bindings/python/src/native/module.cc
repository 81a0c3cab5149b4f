// ntmobile._ntm: the native half of the Python binding. A thin, one-to-one wrapper over the C
// ABI in ntm.h (and nothing else); ntmobile's Python modules build the socket classes on it.
#include <ntm.h>

#include "common.h"

namespace ntmpy {

namespace {
unsigned long g_main_thread = 0;
}

bool on_main_thread() { return PyThread_get_thread_ident() == g_main_thread; }

}  // namespace ntmpy

PYBIND11_MODULE(_ntm, m) {
  namespace py = pybind11;
  m.doc() = "The ntmobile C ABI (ntm.h) for Python. Use the ntmobile package, not this module.";
  ntmpy::g_main_thread =
      py::cast<unsigned long>(py::module_::import("threading").attr("main_thread")().attr("ident"));
  m.attr("HEADER_VERSION") = py::make_tuple(NTM_VERSION_MAJOR, NTM_VERSION_MINOR, NTM_VERSION_PATCH);
  m.attr("BRIDGE_HELLO_SIZE") = NTM_BRIDGE_HELLO_SIZE;
  ntmpy::register_node(m);
  ntmpy::register_sockets(m);
  ntmpy::register_logging(m);
}
