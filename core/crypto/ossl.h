// unique_ptr aliases that own OpenSSL objects, each freed by its own _free function.
// Used inside the crypto layer (aead.h holds cipher contexts through them).
#pragma once

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>

#include "crypto/error.h"

namespace ntm::crypto::ossl {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<&EVP_CIPHER_CTX_free>>;
using CipherPtr = std::unique_ptr<EVP_CIPHER, Deleter<&EVP_CIPHER_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<&EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<&EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<&EVP_MD_CTX_free>>;
using MdPtr = std::unique_ptr<EVP_MD, Deleter<&EVP_MD_free>>;
using MacPtr = std::unique_ptr<EVP_MAC, Deleter<&EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<&EVP_MAC_CTX_free>>;
using KdfPtr = std::unique_ptr<EVP_KDF, Deleter<&EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Deleter<&EVP_KDF_CTX_free>>;

// Takes ownership of `p`, throwing CryptoError(context) when OpenSSL returned NULL.
template <typename Ptr>
Ptr checked(typename Ptr::pointer p, const char* context) {
  if (p == nullptr) throw_crypto_error(context);
  return Ptr(p);
}

// Throws CryptoError(context) unless an OpenSSL call returned 1 (or another positive value).
inline void check(int rc, const char* context) {
  if (rc <= 0) throw_crypto_error(context);
}

// Algorithm objects fetched once per process (the first call fetches; the result is cached in a
// function-local static, so later calls do no name lookup). Throws CryptoError if unavailable.
const EVP_MD* sha256_md();
const EVP_MAC* hmac_mac();
const EVP_KDF* hkdf_kdf();

}  // namespace ntm::crypto::ossl
