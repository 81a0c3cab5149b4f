#include "control/certificate.h"

#include <arpa/inet.h>

#include <stdexcept>

namespace ntm::control {

namespace {

void put_unsigned_part(ByteWriter& w, const NodeCertificate& cert) {
  if (cert.version != kCertificateVersion && cert.version != kLegacyCertificateVersion)
    throw std::invalid_argument("certificate: unknown version");
  w.u8(cert.version);
  w.u64(cert.node_id);
  put_str(w, cert.fqdn);
  w.bytes(cert.static_public);
  if (cert.version >= 2) {
    w.bytes(cert.virtual_ipv4);
    w.bytes(cert.virtual_ipv6);
  }
  w.u64(cert.expires_unix);
}

std::string address_text(std::span<const uint8_t> a) {
  char text[INET6_ADDRSTRLEN] = "?";
  ::inet_ntop(a.size() == 4 ? AF_INET : AF_INET6, a.data(), text, sizeof text);
  return text;
}

}  // namespace

Bytes encode_certificate(const NodeCertificate& cert) {
  return encode_message(kMaxStrSize, [&](ByteWriter& w) {
    put_unsigned_part(w, cert);
    w.bytes(cert.signature);
  });
}

Bytes certificate_signed_bytes(const NodeCertificate& cert) {
  return encode_message(kMaxStrSize, [&](ByteWriter& w) { put_unsigned_part(w, cert); });
}

Decoded<NodeCertificate> decode_certificate(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return DecodeError::truncated;
  if (bytes[0] != kCertificateVersion && bytes[0] != kLegacyCertificateVersion)
    return DecodeError::unknown_type;
  ByteReader r(bytes);
  NodeCertificate c;
  c.version = r.u8();
  c.node_id = r.u64();
  c.fqdn = get_str(r);
  c.static_public = get_array<kPublicKeySize>(r);
  if (c.version >= 2) {
    c.virtual_ipv4 = get_array<4>(r);
    c.virtual_ipv6 = get_array<16>(r);
  }
  c.expires_unix = r.u64();
  c.signature = get_array<kSignatureSize>(r);
  if (auto e = finish_decode(r, false)) return *e;
  return c;
}

void sign(NodeCertificate& cert, const crypto::Ed25519PrivateKey& as_sign_private) {
  cert.signature = crypto::ed25519_sign(as_sign_private, certificate_signed_bytes(cert));
}

bool verify(const NodeCertificate& cert, const crypto::Ed25519PublicKey& as_sign_public,
            uint64_t now_unix) {
  if (now_unix >= cert.expires_unix) return false;
  return crypto::ed25519_verify(as_sign_public, certificate_signed_bytes(cert), cert.signature);
}

DirectedPeer check_directed_peer(std::span<const uint8_t> certificate, const Ipv4Address& vip4,
                                 const Ipv6Address& vip6,
                                 const crypto::Ed25519PublicKey& as_sign_public, uint64_t now_unix) {
  DirectedPeer out;
  auto cert = decode_certificate(certificate);
  if (!cert) {
    out.refusal = "its certificate is malformed";
    return out;
  }
  const NodeCertificate& c = cert.value();
  if (c.version < kCertificateVersion) {
    out.refusal = "its certificate (version " + std::to_string(c.version) +
                  ", from an AS before 0.4) certifies no virtual addresses";
  } else if (now_unix >= c.expires_unix) {
    out.refusal = "its certificate expired";
  } else if (!crypto::ed25519_verify(as_sign_public, certificate_signed_bytes(c), c.signature)) {
    out.refusal = "its certificate is not signed by our AS";
  } else if (c.virtual_ipv4 != vip4 || c.virtual_ipv6 != vip6) {
    out.refusal = "the DC gave it addresses (" + address_text(vip4) + ", " + address_text(vip6) +
                  ") other than its certificate's (" + address_text(c.virtual_ipv4) + ", " +
                  address_text(c.virtual_ipv6) + ")";
  } else {
    out.cert = c;
  }
  return out;
}

}  // namespace ntm::control
