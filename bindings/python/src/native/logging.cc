// The library's log lines into Python: ntm_set_log_callback with a Python callable, called with
// the GIL on the library's log thread. ntmobile._logging routes them to the logging module.
#include <ntm.h>

#include <cstring>

#include "common.h"

namespace ntmpy {

namespace {

// The Python callable receiving log lines, or null. Replaced only with the GIL held, and only
// after the library stopped calling (ntm_set_log_callback(NULL) waits for the log thread).
py::object* g_log_handler = nullptr;


py::str text(const char* s) {
  PyObject* o = PyUnicode_DecodeUTF8(s, static_cast<Py_ssize_t>(std::strlen(s)), "replace");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

void on_log(ntm_log_level level, const char* component, const char* message, void*) {
  if (!Py_IsInitialized() || interpreter_finalizing()) return;
  py::gil_scoped_acquire gil;
  if (g_log_handler == nullptr) return;
  try {
    (*g_log_handler)(static_cast<int>(level), text(component), text(message));
  } catch (py::error_already_set& error) {
    error.discard_as_unraisable("ntmobile log callback");
  }
}

void set_log_callback(py::object handler) {
  {
    // The log thread may be waiting for the GIL to deliver a line: let it finish.
    ReleasedGil release;
    ntm_set_log_callback(nullptr, nullptr);
  }
  delete g_log_handler;
  g_log_handler = nullptr;
  if (handler.is_none()) return;
  g_log_handler = new py::object(std::move(handler));
  int rc = ntm_set_log_callback(on_log, nullptr);
  if (rc != NTM_OK) raise_ntm(rc, ntm_last_error());
}

}  // namespace

void register_logging(py::module_& m) {
  m.def("set_log_callback", &set_log_callback, py::arg("handler"),
        "ntm_set_log_callback(): handler(level, component, message) on the library's log "
        "thread, or None for stderr.");
  m.def(
      "set_log_level",
      [](int level) {
        int rc = ntm_set_log_level(static_cast<ntm_log_level>(level));
        if (rc != NTM_OK) raise_ntm(rc, ntm_last_error());
      },
      py::arg("level"), "ntm_set_log_level().");
}

}  // namespace ntmpy
