#include "crypto/aead.h"

#include <climits>
#include <cstring>
#include <stdexcept>

namespace ntm::crypto {

namespace {

// Fetched once per process; a failed fetch throws and is retried on the next call.
const EVP_CIPHER* cipher_for(AeadAlgorithm alg) {
  switch (alg) {
    case AeadAlgorithm::aes_256_gcm: {
      static const ossl::CipherPtr c = ossl::checked<ossl::CipherPtr>(
          EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr), "fetch AES-256-GCM");
      return c.get();
    }
    case AeadAlgorithm::chacha20_poly1305: {
      static const ossl::CipherPtr c = ossl::checked<ossl::CipherPtr>(
          EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr), "fetch ChaCha20-Poly1305");
      return c.get();
    }
  }
  throw std::invalid_argument("unknown AEAD algorithm");
}

ossl::CipherCtxPtr keyed_context(const EVP_CIPHER* cipher, std::span<const uint8_t> key,
                                 bool encrypt) {
  auto ctx = ossl::checked<ossl::CipherCtxPtr>(EVP_CIPHER_CTX_new(), "EVP_CIPHER_CTX_new");
  // Both ciphers default to a 12-byte IV, so no IV-length parameter is needed.
  int rc = encrypt ? EVP_EncryptInit_ex2(ctx.get(), cipher, key.data(), nullptr, nullptr)
                   : EVP_DecryptInit_ex2(ctx.get(), cipher, key.data(), nullptr, nullptr);
  ossl::check(rc, "AEAD key setup");
  return ctx;
}

int to_int(size_t n, const char* what) {
  if (n > static_cast<size_t>(INT_MAX)) throw std::length_error(what);
  return static_cast<int>(n);
}

}  // namespace

const char* to_string(AeadAlgorithm alg) {
  switch (alg) {
    case AeadAlgorithm::aes_256_gcm:
      return "aes-256-gcm";
    case AeadAlgorithm::chacha20_poly1305:
      return "chacha20-poly1305";
  }
  return "unknown";
}

std::optional<AeadAlgorithm> aead_from_string(std::string_view name) {
  if (name == "aes-256-gcm") return AeadAlgorithm::aes_256_gcm;
  if (name == "chacha20-poly1305") return AeadAlgorithm::chacha20_poly1305;
  return std::nullopt;
}

Aead::Aead(AeadAlgorithm alg, std::span<const uint8_t, kAeadKeySize> key)
    : alg_(alg),
      seal_ctx_(keyed_context(cipher_for(alg), key, true)),
      open_ctx_(keyed_context(cipher_for(alg), key, false)) {}

size_t Aead::seal(std::span<const uint8_t, kAeadNonceSize> nonce, std::span<const uint8_t> aad,
                  std::span<const uint8_t> plaintext, std::span<uint8_t> out) {
  if (out.size() < plaintext.size() || out.size() - plaintext.size() < kAeadTagSize)
    throw std::length_error("Aead::seal: output too small for ciphertext and tag");
  const int aad_len = to_int(aad.size(), "Aead::seal: AAD too long");
  const int pt_len = to_int(plaintext.size(), "Aead::seal: plaintext too long");
  EVP_CIPHER_CTX* ctx = seal_ctx_.get();

  ossl::check(EVP_EncryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr), "AEAD set nonce");
  int len = 0;
  if (aad_len > 0) ossl::check(EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), aad_len), "AEAD AAD");
  size_t written = 0;
  if (pt_len > 0) {
    ossl::check(EVP_EncryptUpdate(ctx, out.data(), &len, plaintext.data(), pt_len), "AEAD encrypt");
    written = static_cast<size_t>(len);
  }
  ossl::check(EVP_EncryptFinal_ex(ctx, out.data() + written, &len), "AEAD encrypt final");
  written += static_cast<size_t>(len);
  ossl::check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagSize),
                                  out.data() + written),
              "AEAD get tag");
  return written + kAeadTagSize;
}

std::optional<size_t> Aead::open(std::span<const uint8_t, kAeadNonceSize> nonce,
                                 std::span<const uint8_t> aad,
                                 std::span<const uint8_t> ciphertext_and_tag,
                                 std::span<uint8_t> out) {
  if (ciphertext_and_tag.size() < kAeadTagSize) return std::nullopt;
  const size_t ct_size = ciphertext_and_tag.size() - kAeadTagSize;
  if (out.size() < ct_size) throw std::length_error("Aead::open: output too small for plaintext");
  const int aad_len = to_int(aad.size(), "Aead::open: AAD too long");
  const int ct_len = to_int(ct_size, "Aead::open: ciphertext too long");
  EVP_CIPHER_CTX* ctx = open_ctx_.get();

  // Copied before decrypting, so an in-place open cannot disturb it.
  uint8_t tag[kAeadTagSize];
  std::memcpy(tag, ciphertext_and_tag.data() + ct_size, kAeadTagSize);

  ossl::check(EVP_DecryptInit_ex2(ctx, nullptr, nullptr, nonce.data(), nullptr), "AEAD set nonce");
  int len = 0;
  if (aad_len > 0) ossl::check(EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), aad_len), "AEAD AAD");
  size_t written = 0;
  if (ct_len > 0) {
    ossl::check(EVP_DecryptUpdate(ctx, out.data(), &len, ciphertext_and_tag.data(), ct_len),
                "AEAD decrypt");
    written = static_cast<size_t>(len);
  }
  ossl::check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kAeadTagSize), tag),
              "AEAD set tag");
  // The final call is where the tag is compared (in constant time, by OpenSSL).
  if (EVP_DecryptFinal_ex(ctx, out.data() + written, &len) <= 0) {
    clear_openssl_errors();
    return std::nullopt;
  }
  return written + static_cast<size_t>(len);
}

}  // namespace ntm::crypto
