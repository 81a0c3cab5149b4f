#include "crypto/error.h"

#include <openssl/err.h>

namespace ntm::crypto {

namespace {

std::string describe(const std::string& context) {
  std::string message = context;
  bool first = true;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    message += first ? ": " : "; ";
    message += buf;
    first = false;
  }
  if (first) message += ": (no OpenSSL error reported)";
  return message;
}

}  // namespace

CryptoError::CryptoError(const std::string& context) : std::runtime_error(describe(context)) {}

void throw_crypto_error(const char* context) { throw CryptoError(context); }

void clear_openssl_errors() noexcept { ERR_clear_error(); }

}  // namespace ntm::crypto
