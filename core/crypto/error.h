// The exception the crypto layer throws when OpenSSL reports a failure.
#pragma once

#include <stdexcept>
#include <string>

namespace ntm::crypto {

// Thrown on an OpenSSL failure that is not an expected outcome (a failed authentication is an
// expected outcome and is a return value, never this). The message is `context` followed by the
// error strings in OpenSSL's per-thread error queue, which is drained.
class CryptoError : public std::runtime_error {
 public:
  explicit CryptoError(const std::string& context);
};

// Throws CryptoError(context). For call sites that check an OpenSSL return code.
[[noreturn]] void throw_crypto_error(const char* context);

// Empties OpenSSL's per-thread error queue, for paths where a failure is an expected answer
// (a bad signature, a low-order X25519 point) so it does not leak into a later error message.
void clear_openssl_errors() noexcept;

}  // namespace ntm::crypto
