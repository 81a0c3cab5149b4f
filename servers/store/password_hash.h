// Password hashing with scrypt (OpenSSL EVP_KDF "SCRYPT"), and enrollment-token hashing.
//
// Stored form (one text column): "scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>", 16-byte salt,
// 32-byte hash; the default cost is N = 2^14, r = 8, p = 1 (about 16 MiB and tens of ms).
// Enrollment tokens are 128-bit random strings; they are stored as "sha256$<hex>" (a slow KDF
// adds nothing to a random secret).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ntm::servers {

struct ScryptParams {
  uint64_t n = uint64_t{1} << 14;
  uint32_t r = 8;
  uint32_t p = 1;
};

// Throws crypto::CryptoError.
std::string hash_password(std::string_view password, const ScryptParams& params = {});
// True when `password` matches `stored` (constant-time compare of the derived key). False for a
// malformed `stored`, never throws for bad input.
bool verify_password(std::string_view password, std::string_view stored);
// Burns the same time as verify_password, for unknown accounts (no timing oracle).
void dummy_password_work();

// A new enrollment token: 32 lower-case hex characters.
std::string new_enrollment_token();
std::string hash_token(std::string_view token);
bool verify_token(std::string_view token, std::string_view stored);

}  // namespace ntm::servers
