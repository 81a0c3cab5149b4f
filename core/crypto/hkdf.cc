#include "crypto/hkdf.h"

#include <openssl/core_names.h>

#include <stdexcept>

#include "crypto/secure.h"

namespace ntm::crypto {

namespace {

// OSSL_PARAM takes octet strings through a non-const void* (OpenSSL only reads them). An empty
// span may have a null data(); a static byte gives it a valid address.
void* param_data(std::span<const uint8_t> s) {
  static uint8_t empty = 0;
  return s.empty() ? &empty : const_cast<uint8_t*>(s.data());
}

void run_hkdf(int mode, std::span<const uint8_t> salt, std::span<const uint8_t> key,
              std::span<const uint8_t> info, std::span<uint8_t> out) {
  auto ctx = ossl::checked<ossl::KdfCtxPtr>(EVP_KDF_CTX_new(const_cast<EVP_KDF*>(ossl::hkdf_kdf())),
                                            "EVP_KDF_CTX_new");
  char digest[] = "SHA256";
  OSSL_PARAM params[6];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, param_data(key), key.size());
  if (!salt.empty())
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, param_data(salt), salt.size());
  if (!info.empty())
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, param_data(info), info.size());
  params[n] = OSSL_PARAM_construct_end();
  ossl::check(EVP_KDF_derive(ctx.get(), out.data(), out.size(), params), "HKDF-SHA256");
}

}  // namespace

Sha256Digest hkdf_extract(std::span<const uint8_t> salt, std::span<const uint8_t> ikm) {
  // RFC 5869: a missing salt is HashLen zeros (HMAC pads short keys with zeros anyway; passing
  // them explicitly avoids relying on how OpenSSL treats an absent salt).
  static constexpr Sha256Digest kZeroSalt{};
  Sha256Digest prk{};
  run_hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt.empty() ? std::span<const uint8_t>(kZeroSalt) : salt,
           ikm, {}, prk);
  return prk;
}

void hkdf_expand(std::span<const uint8_t> prk, std::span<const uint8_t> info, std::span<uint8_t> out) {
  if (out.empty() || out.size() > kHkdfSha256MaxOutput)
    throw std::length_error("hkdf_expand: output must be 1 to 8160 bytes");
  run_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, {}, prk, info, out);
}

void hkdf_sha256(std::span<const uint8_t> salt, std::span<const uint8_t> ikm,
                 std::span<const uint8_t> info, std::span<uint8_t> out) {
  Sha256Digest prk = hkdf_extract(salt, ikm);
  hkdf_expand(prk, info, out);
  secure_zero(prk);
}

}  // namespace ntm::crypto
