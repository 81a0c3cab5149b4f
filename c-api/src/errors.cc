// The per-thread last error (ntm_last_error) and error-code names (ntm_strerror).
#include "api_common.h"

namespace ntm::capi {

namespace {
thread_local std::string t_last_error;
}

const char* last_error() { return t_last_error.c_str(); }

int fail(int code, std::string message) {
  t_last_error = std::move(message);
  return code;
}

void clear_error() { t_last_error.clear(); }

}  // namespace ntm::capi

extern "C" NTM_EXTERN(const char *) ntm_last_error(void) {
  return ntm::capi::last_error();
}

extern "C" NTM_EXTERN(const char *) ntm_strerror(int code) {
  switch (code) {
    case NTM_OK: return "success";
    case NTM_ERROR: return "error";
    case NTM_EINVAL: return "invalid argument";
    case NTM_ESTATE: return "not allowed in the current state";
    case NTM_ENOMEM: return "out of memory";
    case NTM_EIO: return "operating-system error";
    case NTM_ENOTFOUND: return "not found";
    case NTM_EVERSION: return "unknown struct version";
    case NTM_EBUFS: return "buffer too small";
    case NTM_EUNSUPPORTED: return "not supported";
    case NTM_EAUTH: return "credentials refused";
    case NTM_EUNREACHABLE: return "server unreachable";
    default: return "unknown error code";
  }
}
