// test_data.h - deterministic pseudo-random payloads and SHA-256, shared by the test node (which
// sends and checks data) and the driver (which computes the digests it expects).
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

namespace ntm_test {

// Seeds of the streams each scenario sends; the connection index is added to them.
inline constexpr uint64_t kClientToServerSeed = 0xC25000000000ULL;
inline constexpr uint64_t kServerToClientSeed = 0x52C000000000ULL;
inline constexpr uint64_t kUdpRequestSeed = 0xD0000000ULL;
inline constexpr uint64_t kUdpReplySeed = 0xE0000000ULL;

// splitmix64: the byte at position p of stream `seed` is byte p%8 of mix(seed, p/8), so any
// chunking of a stream yields the same bytes.
inline uint64_t mix(uint64_t seed, uint64_t block) {
  uint64_t z = seed + (block + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Writes bytes [offset, offset + out.size()) of stream `seed` into out.
inline void fill(uint64_t seed, uint64_t offset, std::span<unsigned char> out) {
  size_t i = 0;
  while (i < out.size()) {
    uint64_t pos = offset + i;
    uint64_t word = mix(seed, pos / 8);
    unsigned shift = static_cast<unsigned>(pos % 8);
    for (; shift < 8 && i < out.size(); ++shift, ++i) {
      out[i] = static_cast<unsigned char>(word >> (8 * shift));
    }
  }
}

// Incremental SHA-256 (OpenSSL EVP), hex digest.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("EVP_DigestInit_ex(sha256) failed");
    }
  }
  void update(std::span<const unsigned char> data) {
    EVP_DigestUpdate(ctx_.get(), data.data(), data.size());
    bytes_ += data.size();
  }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &len);
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out += digits[digest[i] >> 4];
      out += digits[digest[i] & 15];
    }
    return out;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
  uint64_t bytes_ = 0;
};

// SHA-256 of the first `length` bytes of stream `seed`.
inline std::string stream_sha256(uint64_t seed, uint64_t length) {
  Sha256 sha;
  auto buf = std::make_unique<unsigned char[]>(1 << 20);
  for (uint64_t off = 0; off < length;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(length - off, 1 << 20));
    fill(seed, off, {buf.get(), n});
    sha.update({buf.get(), n});
    off += n;
  }
  return sha.hex();
}

// UDP scenario: datagram `seq` is a 8-byte header (magic, seq) then a seed-derived body whose
// length varies with seq (16 .. 1215 bytes including the header).
inline constexpr uint32_t kUdpMagicData = 0x4E544D44;  // "NTMD"
inline constexpr uint32_t kUdpMagicFin = 0x4E544D46;   // "NTMF"
inline size_t udp_length(uint64_t seed, uint32_t seq) {
  return 16 + static_cast<size_t>((seq * 37u + (seed >> 28)) % 1200u);
}
inline size_t udp_build(uint64_t seed, uint32_t magic, uint32_t seq, unsigned char *out) {
  size_t len = magic == kUdpMagicFin ? 8 : udp_length(seed, seq);
  std::memcpy(out, &magic, 4);
  std::memcpy(out + 4, &seq, 4);
  if (len > 8) {
    fill(seed + seq, 0, {out + 8, len - 8});
  }
  return len;
}
// True if `data` is exactly datagram `seq` of stream `seed`.
inline bool udp_valid(uint64_t seed, const unsigned char *data, size_t len, uint32_t *seq_out) {
  uint32_t magic = 0;
  uint32_t seq = 0;
  if (len < 8) return false;
  std::memcpy(&magic, data, 4);
  std::memcpy(&seq, data + 4, 4);
  if (magic != kUdpMagicData || len != udp_length(seed, seq)) return false;
  unsigned char expected[2048];
  udp_build(seed, magic, seq, expected);
  if (std::memcmp(expected, data, len) != 0) return false;
  *seq_out = seq;
  return true;
}

}  // namespace ntm_test
