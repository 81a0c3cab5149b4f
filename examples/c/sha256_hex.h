/*
 * sha256_hex.h - incremental SHA-256 with OpenSSL EVP, ending in the lowercase hex digest the
 * file-transfer protocol sends ("OK <64 hex digits>").
 */
#ifndef NTM_EXAMPLES_SHA256_HEX_H
#define NTM_EXAMPLES_SHA256_HEX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sha256_hex {
  void *ctx;    /* EVP_MD_CTX, kept opaque so callers need no OpenSSL headers */
  char hex[65]; /* the digest after sha256_hex_final, NUL-terminated */
} sha256_hex;

/** Starts a hash. Returns 0, or -1 (message on stderr) if OpenSSL fails. */
int sha256_hex_init(sha256_hex *hash);

/** Adds bytes. */
void sha256_hex_update(sha256_hex *hash, const void *data, size_t len);

/** Finishes: fills hash->hex and releases the context. */
void sha256_hex_final(sha256_hex *hash);

/** Releases the context of a hash abandoned before sha256_hex_final. */
void sha256_hex_free(sha256_hex *hash);

#ifdef __cplusplus
}
#endif

#endif /* NTM_EXAMPLES_SHA256_HEX_H */
