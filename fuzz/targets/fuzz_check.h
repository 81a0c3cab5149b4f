// Helpers shared by the fuzz targets: a check that stops the run (libFuzzer then saves the input
// as crash-<sha1>), and the round-trip property every strict codec must have.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

namespace ntm::fuzz {

// Aborts with a message when `ok` is false. Used for properties the decoders promise
// (a view stays inside its input, an accepted message re-encodes to the same bytes).
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

inline bool same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// True when `inner` lies entirely inside `outer` (decoders hand out views, never copies).
inline bool within(std::span<const uint8_t> inner, std::span<const uint8_t> outer) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// Strict codecs: whatever a decoder accepts, its encoder writes back byte for byte (a decoder
// that accepted two spellings of one message would let a forged variant slip past a cache or a
// signature over the canonical form).
template <class Value, class Encode>
void check_round_trip(const Value& decoded, std::span<const uint8_t> input, Encode&& encode,
                      const char* what) {
  std::vector<uint8_t> again;
  try {
    again = encode(decoded);
  } catch (...) {
    check(false, what);  // the decoder accepted something the encoder refuses to write
  }
  check(same_bytes(again, input), what);
}

}  // namespace ntm::fuzz
