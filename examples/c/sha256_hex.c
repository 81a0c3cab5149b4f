/* sha256_hex.c - SHA-256 through OpenSSL's EVP interface, digest as lowercase hex. */
#include "sha256_hex.h"

#include <openssl/evp.h>
#include <stdio.h>

int sha256_hex_init(sha256_hex *hash) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  hash->hex[0] = '\0';
  hash->ctx = ctx;
  if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    fprintf(stderr, "sha256: OpenSSL could not start a SHA-256 digest\n");
    EVP_MD_CTX_free(ctx);
    hash->ctx = NULL;
    return -1;
  }
  return 0;
}

void sha256_hex_update(sha256_hex *hash, const void *data, size_t len) {
  EVP_DigestUpdate((EVP_MD_CTX *)hash->ctx, data, len);
}

void sha256_hex_final(sha256_hex *hash) {
  static const char digits[] = "0123456789abcdef";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  unsigned int i;
  EVP_DigestFinal_ex((EVP_MD_CTX *)hash->ctx, digest, &len);
  for (i = 0; i < len && i < 32; ++i) {
    hash->hex[2 * i] = digits[digest[i] >> 4];
    hash->hex[2 * i + 1] = digits[digest[i] & 0xf];
  }
  hash->hex[2 * i] = '\0';
  sha256_hex_free(hash);
}

void sha256_hex_free(sha256_hex *hash) {
  EVP_MD_CTX_free((EVP_MD_CTX *)hash->ctx);
  hash->ctx = NULL;
}
