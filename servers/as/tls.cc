#include "as/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/state_dir.h"
#include "crypto/error.h"
#include "crypto/random.h"

namespace ntm::servers::tls {

namespace {

using crypto::ossl::check;
using crypto::ossl::checked;
using crypto::ossl::PkeyPtr;

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace

bool ensure_identity(const std::filesystem::path& cert_pem, const std::filesystem::path& key_pem,
                     const std::string& common_name) {
  const bool have_cert = std::filesystem::exists(cert_pem);
  const bool have_key = std::filesystem::exists(key_pem);
  if (have_cert && have_key) return false;
  if (have_cert != have_key)
    throw StateError("found only one of " + cert_pem.string() + " and " + key_pem.string() +
                     "; restore the other or delete both to generate a new identity");

  auto key = checked<PkeyPtr>(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), "Ed25519 keygen");
  auto cert = checked<X509Ptr>(X509_new(), "X509_new");
  check(X509_set_version(cert.get(), 2), "X509_set_version");
  check(ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()),
                               static_cast<int64_t>(crypto::random_u64() >> 1)),
        "serial");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  check(X509_set_pubkey(cert.get(), key.get()), "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                   -1, -1, 0),
        "subject CN");
  check(X509_set_issuer_name(cert.get(), name), "issuer");
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string san = "DNS:" + common_name;
  for (const auto& [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                                   // A server certificate only: a stolen key cannot sign
                                   // other certificates (docs/security.md).
                                   {NID_basic_constraints, "critical,CA:FALSE"},
                                   {NID_key_usage, "critical,digitalSignature"},
                                   {NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (!ext) crypto::throw_crypto_error("X509 extension");
    const int ok = X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
    check(ok, "X509_add_ext");
  }
  check(X509_sign(cert.get(), key.get(), nullptr) > 0 ? 1 : 0, "X509_sign");

  BioPtr key_bio = checked<BioPtr>(BIO_new(BIO_s_mem()), "BIO_new");
  check(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr),
        "write key PEM");
  BioPtr cert_bio = checked<BioPtr>(BIO_new(BIO_s_mem()), "BIO_new");
  check(PEM_write_bio_X509(cert_bio.get(), cert.get()), "write certificate PEM");
  // Key first: a certificate without its key would be useless.
  if (!create_file_exclusive(key_pem, bio_to_string(key_bio.get()), 0600)) return false;
  create_file_exclusive(cert_pem, bio_to_string(cert_bio.get()), 0644);
  return true;
}

SslCtxPtr make_server_context(const std::filesystem::path& cert_pem,
                              const std::filesystem::path& key_pem) {
  auto ctx = checked<SslCtxPtr>(SSL_CTX_new(TLS_server_method()), "SSL_CTX_new");
  check(SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION), "TLS 1.3 minimum");
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_pem.c_str()) != 1)
    crypto::throw_crypto_error(("cannot load TLS certificate " + cert_pem.string()).c_str());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_pem.c_str(), SSL_FILETYPE_PEM) != 1)
    crypto::throw_crypto_error(("cannot load TLS key " + key_pem.string()).c_str());
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    crypto::throw_crypto_error("the TLS key does not match the certificate");
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  return ctx;
}

SslCtxPtr make_pinned_client_context(const std::filesystem::path& pinned_pem) {
  auto ctx = checked<SslCtxPtr>(SSL_CTX_new(TLS_client_method()), "SSL_CTX_new");
  check(SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION), "TLS 1.3 minimum");
  if (SSL_CTX_load_verify_file(ctx.get(), pinned_pem.c_str()) != 1)
    crypto::throw_crypto_error(("cannot load pinned certificate " + pinned_pem.string()).c_str());
  // The pinned certificate is the trust anchor itself (as on the node), CA or not.
  X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx.get()), X509_V_FLAG_PARTIAL_CHAIN);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

}  // namespace ntm::servers::tls
