#include "control/certificate.h"

namespace ntm::control {

namespace {

void put_unsigned_part(ByteWriter& w, const NodeCertificate& cert) {
  w.u8(kCertificateVersion);
  w.u64(cert.node_id);
  put_str(w, cert.fqdn);
  w.bytes(cert.static_public);
  w.u64(cert.expires_unix);
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
  if (bytes[0] != kCertificateVersion) return DecodeError::unknown_type;
  ByteReader r(bytes);
  r.skip(1);
  NodeCertificate c;
  c.node_id = r.u64();
  c.fqdn = get_str(r);
  c.static_public = get_array<kPublicKeySize>(r);
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

}  // namespace ntm::control
