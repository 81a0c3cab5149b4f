#include "store/password_hash.h"

#include <argon2.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/error.h"
#include "crypto/hash.h"
#include "crypto/ossl.h"
#include "crypto/random.h"
#include "crypto/secure.h"

namespace ntm::servers {

namespace {

constexpr size_t kSaltSize = 16;
constexpr size_t kHashSize = 32;
constexpr uint64_t kMaxN = uint64_t{1} << 20;
// Bounds for stored argon2id parameters (above them the hash is treated as malformed).
constexpr uint32_t kMaxMemoryKib = 1024 * 1024;
constexpr uint32_t kMaxPasses = 64;
constexpr uint32_t kMaxLanes = 16;

struct Argon2Stored {
  PasswordCost cost;
  bool ok = false;
};

// The parameters of "$argon2id$v=19$m=..,t=..,p=..$salt$hash".
Argon2Stored parse_argon2id(std::string_view stored) {
  Argon2Stored out;
  const std::string s(stored.substr(0, 128));
  unsigned version = 0, m = 0, t = 0, p = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "$argon2id$v=%u$m=%u,t=%u,p=%u$%n", &version, &m, &t, &p,
                  &consumed) != 4 || consumed == 0)
    return out;
  if (version != ARGON2_VERSION_13 || m < 8 * p || m > kMaxMemoryKib || t == 0 ||
      t > kMaxPasses || p == 0 || p > kMaxLanes)
    return out;
  out.cost = PasswordCost{m, t, p};
  out.ok = true;
  return out;
}

EVP_KDF* scrypt_kdf() {
  static const crypto::ossl::KdfPtr k = crypto::ossl::checked<crypto::ossl::KdfPtr>(
      EVP_KDF_fetch(nullptr, "SCRYPT", nullptr), "fetch SCRYPT");
  return k.get();
}

std::array<uint8_t, kHashSize> scrypt(std::string_view password, std::span<const uint8_t> salt,
                                      const ScryptParams& params) {
  auto ctx = crypto::ossl::checked<crypto::ossl::KdfCtxPtr>(EVP_KDF_CTX_new(scrypt_kdf()),
                                                            "EVP_KDF_CTX_new SCRYPT");
  uint64_t n = params.n;
  uint32_t r = params.r;
  uint32_t p = params.p;
  OSSL_PARAM ps[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                        const_cast<char*>(password.data()), password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_end(),
  };
  std::array<uint8_t, kHashSize> out{};
  crypto::ossl::check(EVP_KDF_derive(ctx.get(), out.data(), out.size(), ps), "scrypt derive");
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

template <class T>
bool parse_uint(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
}

}  // namespace

std::string hash_password(std::string_view password, const PasswordCost& cost) {
  std::array<uint8_t, kSaltSize> salt{};
  crypto::random_bytes(salt);
  const size_t length = argon2_encodedlen(cost.passes, cost.memory_kib, cost.lanes, kSaltSize,
                                          kHashSize, Argon2_id);
  std::string encoded(length, '\0');
  const int rc = argon2id_hash_encoded(cost.passes, cost.memory_kib, cost.lanes, password.data(),
                                       password.size(), salt.data(), salt.size(), kHashSize,
                                       encoded.data(), encoded.size());
  if (rc != ARGON2_OK)
    throw crypto::CryptoError(std::string("argon2id: ") + argon2_error_message(rc));
  encoded.resize(std::char_traits<char>::length(encoded.c_str()));
  return encoded;
}

std::string hash_password_scrypt(std::string_view password, const ScryptParams& params) {
  std::array<uint8_t, kSaltSize> salt{};
  crypto::random_bytes(salt);
  auto hash = scrypt(password, salt, params);
  std::string out = "scrypt$" + std::to_string(params.n) + "$" + std::to_string(params.r) + "$" +
                    std::to_string(params.p) + "$" + crypto::base64_encode(salt) + "$" +
                    crypto::base64_encode(hash);
  crypto::secure_zero(hash);
  return out;
}

namespace {

bool verify_scrypt(std::string_view password, std::string_view stored) {
  const auto parts = split(stored, '$');
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  ScryptParams params;
  if (!parse_uint(parts[1], params.n) || !parse_uint(parts[2], params.r) ||
      !parse_uint(parts[3], params.p))
    return false;
  // Refuse absurd costs from a tampered database rather than burn memory.
  if (params.n < 2 || params.n > kMaxN || (params.n & (params.n - 1)) != 0 || params.r == 0 ||
      params.r > 32 || params.p == 0 || params.p > 16)
    return false;
  const auto salt = crypto::base64_decode(parts[4]);
  const auto expected = crypto::base64_decode(parts[5]);
  if (!salt || !expected || expected->size() != kHashSize) return false;
  try {
    auto got = scrypt(password, *salt, params);
    const bool ok = crypto::constant_time_equal(got, *expected);
    crypto::secure_zero(got);
    return ok;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

bool verify_password(std::string_view password, std::string_view stored) {
  if (stored.rfind("scrypt$", 0) == 0) return verify_scrypt(password, stored);
  if (!parse_argon2id(stored).ok) return false;
  const std::string encoded(stored);  // NUL-terminated for libargon2
  // argon2id_verify compares the derived key in constant time.
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

bool needs_rehash(std::string_view stored, const PasswordCost& cost) {
  const auto a = parse_argon2id(stored);
  if (!a.ok) return true;
  return a.cost.memory_kib < cost.memory_kib || a.cost.passes < cost.passes ||
         a.cost.lanes < cost.lanes;
}

void dummy_password_work(const PasswordCost& cost) {
  // One argon2id computation of that cost: what verifying a stored hash costs.
  (void)hash_password("ntm-dummy-password", cost);
}

std::string new_enrollment_token() {
  std::array<uint8_t, 16> raw{};
  crypto::random_bytes(raw);
  return crypto::to_hex(raw);
}

std::string hash_token(std::string_view token) {
  const auto d = crypto::sha256(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(token.data()), token.size()));
  return "sha256$" + crypto::to_hex(d);
}

bool verify_token(std::string_view token, std::string_view stored) {
  const std::string got = hash_token(token);
  return crypto::constant_time_equal(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(got.data()), got.size()),
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(stored.data()), stored.size()));
}

}  // namespace ntm::servers
