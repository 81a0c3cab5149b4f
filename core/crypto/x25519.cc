#include "crypto/x25519.h"

#include <openssl/crypto.h>

#include "crypto/ossl.h"

namespace ntm::crypto {

namespace {

ossl::PkeyPtr private_pkey(const X25519Key& private_key) {
  return ossl::checked<ossl::PkeyPtr>(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(), private_key.size()),
      "X25519 private key");
}

X25519Key raw_public(const EVP_PKEY* pkey) {
  X25519Key pub{};
  size_t len = pub.size();
  ossl::check(EVP_PKEY_get_raw_public_key(pkey, pub.data(), &len), "X25519 get public key");
  if (len != pub.size()) throw CryptoError("X25519 public key has an unexpected length");
  return pub;
}

}  // namespace

X25519KeyPair x25519_generate() {
  auto ctx = ossl::checked<ossl::PkeyCtxPtr>(EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr),
                                             "X25519 keygen context");
  ossl::check(EVP_PKEY_keygen_init(ctx.get()), "X25519 keygen init");
  EVP_PKEY* raw = nullptr;
  ossl::check(EVP_PKEY_keygen(ctx.get(), &raw), "X25519 keygen");
  ossl::PkeyPtr pkey(raw);

  X25519KeyPair pair{};
  size_t len = pair.private_key.size();
  ossl::check(EVP_PKEY_get_raw_private_key(pkey.get(), pair.private_key.data(), &len),
              "X25519 get private key");
  if (len != pair.private_key.size()) throw CryptoError("X25519 private key has an unexpected length");
  pair.public_key = raw_public(pkey.get());
  return pair;
}

X25519Key x25519_public_from_private(const X25519Key& private_key) {
  return raw_public(private_pkey(private_key).get());
}

std::optional<X25519Key> x25519_shared(const X25519Key& private_key, const X25519Key& peer_public) {
  auto own = private_pkey(private_key);
  auto peer = ossl::checked<ossl::PkeyPtr>(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_public.data(), peer_public.size()),
      "X25519 peer public key");
  auto ctx = ossl::checked<ossl::PkeyCtxPtr>(EVP_PKEY_CTX_new_from_pkey(nullptr, own.get(), nullptr),
                                             "X25519 derive context");
  ossl::check(EVP_PKEY_derive_init(ctx.get()), "X25519 derive init");
  // No peer validation here: for X25519 every 32-byte string is a valid input, and the one
  // check that matters (an all-zero result) is made below.
  ossl::check(EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.get(), 0), "X25519 set peer");

  X25519Key shared{};
  size_t len = shared.size();
  // OpenSSL itself refuses to output an all-zero secret, so a derive failure here is the
  // small-order case; it is an answer (nullopt), not an error.
  if (EVP_PKEY_derive(ctx.get(), shared.data(), &len) <= 0) {
    clear_openssl_errors();
    return std::nullopt;
  }
  if (len != shared.size()) throw CryptoError("X25519 shared secret has an unexpected length");
  static constexpr X25519Key kZero{};
  if (CRYPTO_memcmp(shared.data(), kZero.data(), shared.size()) == 0) return std::nullopt;
  return shared;
}

}  // namespace ntm::crypto
