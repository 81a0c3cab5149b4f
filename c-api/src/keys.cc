// Key generation and conversion to and from text (base64).
#include <cstring>

#include "api_common.h"
#include "capi_util.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"

using namespace ntm;

extern "C" NTM_EXTERN(int) ntm_keypair_generate(char private_key[NTM_KEY_TEXT_SIZE],
                                                char public_key[NTM_KEY_TEXT_SIZE]) {
  return capi::guarded([&]() -> int {
    if (private_key == nullptr || public_key == nullptr) {
      return capi::fail(NTM_EINVAL, "ntm_keypair_generate: NULL output buffer");
    }
    auto pair = crypto::x25519_generate();
    capi::copy_text(crypto::base64_encode(pair.private_key), private_key, NTM_KEY_TEXT_SIZE);
    capi::copy_text(crypto::base64_encode(pair.public_key), public_key, NTM_KEY_TEXT_SIZE);
    return NTM_OK;
  });
}

extern "C" NTM_EXTERN(int) ntm_public_key_from_private(const char *private_key,
                                                       char public_key[NTM_KEY_TEXT_SIZE]) {
  return capi::guarded([&]() -> int {
    if (public_key == nullptr) return capi::fail(NTM_EINVAL, "public_key: NULL output buffer");
    auto key = capi::parse_key(private_key);
    if (!key) return capi::fail(NTM_EINVAL, "private_key: not 32 bytes of base64");
    capi::copy_text(crypto::base64_encode(crypto::x25519_public_from_private(*key)), public_key,
                    NTM_KEY_TEXT_SIZE);
    return NTM_OK;
  });
}
