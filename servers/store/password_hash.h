// Password hashing with Argon2id (Debian's libargon2, the reference implementation), and
// enrollment-token hashing.
//
// Stored form (one text column): the PHC string "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$
// <salt>$<hash>", 16-byte salt, 32-byte hash. The default cost is OWASP's first argon2id
// setting: m = 19 MiB, t = 2, p = 1 (tens of ms of one core per check). Hashes of earlier
// versions, "scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>", still verify, and
// needs_rehash() tells the store to replace them (and argon2id hashes of a lower cost) with the
// current default at the account's next successful login.
// Enrollment tokens are 128-bit random strings; they are stored as "sha256$<hex>" (a slow KDF
// adds nothing to a random secret).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ntm::servers {

struct PasswordCost {
  uint32_t memory_kib = 19 * 1024;  // m
  uint32_t passes = 2;              // t
  uint32_t lanes = 1;               // p
};

// A cost for tests only (fast, far too weak for real passwords).
inline constexpr PasswordCost kTestPasswordCost{.memory_kib = 64, .passes = 1, .lanes = 1};

// Earlier versions' scrypt parameters: only to verify (and to write old hashes in tests).
struct ScryptParams {
  uint64_t n = uint64_t{1} << 14;
  uint32_t r = 8;
  uint32_t p = 1;
};

// Throws crypto::CryptoError.
std::string hash_password(std::string_view password, const PasswordCost& cost = {});
// An earlier version's scrypt hash (tests of the upgrade path).
std::string hash_password_scrypt(std::string_view password, const ScryptParams& params = {});
// True when `password` matches `stored` (argon2id or scrypt; constant-time compare of the
// derived key). False for a malformed `stored` or one whose cost is absurd (a tampered
// database must not make the server burn gigabytes); never throws for bad input.
bool verify_password(std::string_view password, std::string_view stored);
// True when `stored` is not argon2id at least as costly as `cost` in every parameter.
bool needs_rehash(std::string_view stored, const PasswordCost& cost = {});
// Burns the same time as verify_password of a `cost` hash, for unknown accounts (no timing
// oracle).
void dummy_password_work(const PasswordCost& cost = {});

// A new enrollment token: 32 lower-case hex characters.
std::string new_enrollment_token();
std::string hash_token(std::string_view token);
bool verify_token(std::string_view token, std::string_view stored);

}  // namespace ntm::servers
