#include "store/password_hash.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <array>
#include <charconv>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/ossl.h"
#include "crypto/random.h"
#include "crypto/secure.h"

namespace ntm::servers {

namespace {

constexpr size_t kSaltSize = 16;
constexpr size_t kHashSize = 32;
constexpr uint64_t kMaxN = uint64_t{1} << 20;

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

std::string hash_password(std::string_view password, const ScryptParams& params) {
  std::array<uint8_t, kSaltSize> salt{};
  crypto::random_bytes(salt);
  auto hash = scrypt(password, salt, params);
  std::string out = "scrypt$" + std::to_string(params.n) + "$" + std::to_string(params.r) + "$" +
                    std::to_string(params.p) + "$" + crypto::base64_encode(salt) + "$" +
                    crypto::base64_encode(hash);
  crypto::secure_zero(hash);
  return out;
}

bool verify_password(std::string_view password, std::string_view stored) {
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

void dummy_password_work() {
  static const std::string dummy = hash_password("ntm-dummy-password");
  (void)verify_password("not-the-password", dummy);
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
