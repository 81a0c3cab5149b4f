#include "crypto/ossl.h"

namespace ntm::crypto::ossl {

const EVP_MD* sha256_md() {
  static const MdPtr md = checked<MdPtr>(EVP_MD_fetch(nullptr, "SHA256", nullptr), "fetch SHA256");
  return md.get();
}

const EVP_MAC* hmac_mac() {
  static const MacPtr mac = checked<MacPtr>(EVP_MAC_fetch(nullptr, "HMAC", nullptr), "fetch HMAC");
  return mac.get();
}

const EVP_KDF* hkdf_kdf() {
  static const KdfPtr kdf = checked<KdfPtr>(EVP_KDF_fetch(nullptr, "HKDF", nullptr), "fetch HKDF");
  return kdf.get();
}

}  // namespace ntm::crypto::ossl
