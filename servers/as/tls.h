// The AS's TLS 1.3 identity and server context (OpenSSL). The AS generates a self-signed Ed25519
// X.509 certificate on first start; nodes pin that certificate (as-tls.pem) and verify it.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <filesystem>
#include <memory>
#include <string>

#include "crypto/ossl.h"

namespace ntm::servers::tls {

using SslCtxPtr = std::unique_ptr<SSL_CTX, crypto::ossl::Deleter<&SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, crypto::ossl::Deleter<&SSL_free>>;
using X509Ptr = std::unique_ptr<X509, crypto::ossl::Deleter<&X509_free>>;
using BioPtr = std::unique_ptr<BIO, crypto::ossl::Deleter<&BIO_free_all>>;

// Creates a self-signed server certificate (Ed25519, 10 years, CN and DNS SAN = common_name; not
// a CA: CA:FALSE, key usage digitalSignature, extended key usage serverAuth) and its
// key at the two paths unless both exist. Throws StateError when only one exists or a file
// cannot be written, CryptoError on an OpenSSL failure. Returns true when it created them.
bool ensure_identity(const std::filesystem::path& cert_pem, const std::filesystem::path& key_pem,
                     const std::string& common_name);

// A server context: TLS 1.3 only, the given certificate and key. Throws CryptoError naming the
// file when the certificate or key cannot be loaded or do not match.
SslCtxPtr make_server_context(const std::filesystem::path& cert_pem,
                              const std::filesystem::path& key_pem);

// A client context that trusts exactly the pinned certificate(s) in `pinned_pem` (TLS 1.3,
// peer verification on, no host name check: the pin is the identity). For tests and tools.
SslCtxPtr make_pinned_client_context(const std::filesystem::path& pinned_pem);

}  // namespace ntm::servers::tls
