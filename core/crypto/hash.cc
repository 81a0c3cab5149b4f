#include "crypto/hash.h"

#include <openssl/core_names.h>

namespace ntm::crypto {

Sha256Digest sha256(std::span<const uint8_t> data) {
  Sha256Digest out{};
  unsigned int len = 0;
  ossl::check(EVP_Digest(data.data(), data.size(), out.data(), &len, ossl::sha256_md(), nullptr),
              "SHA-256");
  return out;
}

Sha256::Sha256() : ctx_(ossl::checked<ossl::MdCtxPtr>(EVP_MD_CTX_new(), "EVP_MD_CTX_new")) {
  ossl::check(EVP_DigestInit_ex2(ctx_.get(), ossl::sha256_md(), nullptr), "SHA-256 init");
}

void Sha256::update(std::span<const uint8_t> data) {
  if (data.empty()) return;
  ossl::check(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()), "SHA-256 update");
}

Sha256Digest Sha256::finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  ossl::check(EVP_DigestFinal_ex(ctx_.get(), out.data(), &len), "SHA-256 final");
  ossl::check(EVP_DigestInit_ex2(ctx_.get(), nullptr, nullptr), "SHA-256 reset");
  return out;
}

namespace {

ossl::MacCtxPtr keyed_hmac(std::span<const uint8_t> key) {
  auto ctx = ossl::checked<ossl::MacCtxPtr>(EVP_MAC_CTX_new(const_cast<EVP_MAC*>(ossl::hmac_mac())),
                                            "EVP_MAC_CTX_new");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  // A NULL key would mean "keep the current key"; an empty key must still be a key.
  static const uint8_t kEmpty = 0;
  const uint8_t* key_ptr = key.empty() ? &kEmpty : key.data();
  ossl::check(EVP_MAC_init(ctx.get(), key_ptr, key.size(), params), "HMAC-SHA256 init");
  return ctx;
}

Sha256Digest finish(EVP_MAC_CTX* ctx, std::span<const uint8_t> data) {
  if (!data.empty()) ossl::check(EVP_MAC_update(ctx, data.data(), data.size()), "HMAC-SHA256 update");
  Sha256Digest out{};
  size_t len = 0;
  ossl::check(EVP_MAC_final(ctx, out.data(), &len, out.size()), "HMAC-SHA256 final");
  if (len != out.size()) throw CryptoError("HMAC-SHA256 has an unexpected length");
  return out;
}

}  // namespace

Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  auto ctx = keyed_hmac(key);
  return finish(ctx.get(), data);
}

HmacSha256::HmacSha256(std::span<const uint8_t> key) : keyed_(keyed_hmac(key)) {}

Sha256Digest HmacSha256::mac(std::span<const uint8_t> data) const {
  // The keyed context is only read (duplicated), so concurrent calls are safe.
  auto ctx = ossl::checked<ossl::MacCtxPtr>(EVP_MAC_CTX_dup(keyed_.get()), "EVP_MAC_CTX_dup");
  return finish(ctx.get(), data);
}

}  // namespace ntm::crypto
