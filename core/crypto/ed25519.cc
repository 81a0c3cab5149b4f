#include "crypto/ed25519.h"

#include "crypto/ossl.h"

namespace ntm::crypto {

namespace {

ossl::PkeyPtr private_pkey(const Ed25519PrivateKey& private_key) {
  return ossl::checked<ossl::PkeyPtr>(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, private_key.data(), private_key.size()),
      "Ed25519 private key");
}

Ed25519PublicKey raw_public(const EVP_PKEY* pkey) {
  Ed25519PublicKey pub{};
  size_t len = pub.size();
  ossl::check(EVP_PKEY_get_raw_public_key(pkey, pub.data(), &len), "Ed25519 get public key");
  if (len != pub.size()) throw CryptoError("Ed25519 public key has an unexpected length");
  return pub;
}

}  // namespace

Ed25519KeyPair ed25519_generate() {
  auto ctx = ossl::checked<ossl::PkeyCtxPtr>(
      EVP_PKEY_CTX_new_from_name(nullptr, "ED25519", nullptr), "Ed25519 keygen context");
  ossl::check(EVP_PKEY_keygen_init(ctx.get()), "Ed25519 keygen init");
  EVP_PKEY* raw = nullptr;
  ossl::check(EVP_PKEY_keygen(ctx.get(), &raw), "Ed25519 keygen");
  ossl::PkeyPtr pkey(raw);

  Ed25519KeyPair pair{};
  size_t len = pair.private_key.size();
  ossl::check(EVP_PKEY_get_raw_private_key(pkey.get(), pair.private_key.data(), &len),
              "Ed25519 get private key");
  if (len != pair.private_key.size()) throw CryptoError("Ed25519 private key has an unexpected length");
  pair.public_key = raw_public(pkey.get());
  return pair;
}

Ed25519PublicKey ed25519_public_from_private(const Ed25519PrivateKey& private_key) {
  return raw_public(private_pkey(private_key).get());
}

Ed25519Signature ed25519_sign(const Ed25519PrivateKey& private_key, std::span<const uint8_t> msg) {
  auto pkey = private_pkey(private_key);
  auto md = ossl::checked<ossl::MdCtxPtr>(EVP_MD_CTX_new(), "EVP_MD_CTX_new");
  // Pure Ed25519: no digest, one-shot signing.
  ossl::check(EVP_DigestSignInit_ex(md.get(), nullptr, nullptr, nullptr, nullptr, pkey.get(), nullptr),
              "Ed25519 sign init");
  Ed25519Signature sig{};
  size_t len = sig.size();
  ossl::check(EVP_DigestSign(md.get(), sig.data(), &len, msg.data(), msg.size()), "Ed25519 sign");
  if (len != sig.size()) throw CryptoError("Ed25519 signature has an unexpected length");
  return sig;
}

bool ed25519_verify(const Ed25519PublicKey& public_key, std::span<const uint8_t> msg,
                    std::span<const uint8_t> signature) {
  if (signature.size() != 64) return false;
  ossl::PkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  ossl::MdCtxPtr md(pkey ? EVP_MD_CTX_new() : nullptr);
  bool ok = md &&
            EVP_DigestVerifyInit_ex(md.get(), nullptr, nullptr, nullptr, nullptr, pkey.get(), nullptr) == 1 &&
            EVP_DigestVerify(md.get(), signature.data(), signature.size(), msg.data(), msg.size()) == 1;
  if (!ok) clear_openssl_errors();
  return ok;
}

}  // namespace ntm::crypto
