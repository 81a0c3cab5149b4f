// Bounds-checked big-endian readers and writers over caller-owned buffers; used by every codec.
// Neither ever touches memory outside its span: a read or write that does not fit sets a sticky
// `failed()` flag, reads then yield zeros and writes are dropped, so a codec may run a whole
// sequence of calls and check the flag once at the end.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ntm::wire {

// Unchecked big-endian loads and stores; callers guarantee the size.
constexpr uint16_t load_be16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((unsigned{p[0]} << 8) | unsigned{p[1]});
}
constexpr uint32_t load_be32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
constexpr uint64_t load_be64(const uint8_t* p) noexcept {
  return (uint64_t{load_be32(p)} << 32) | uint64_t{load_be32(p + 4)};
}
constexpr void store_be16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
constexpr void store_be32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
constexpr void store_be64(uint8_t* p, uint64_t v) noexcept {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}

class ByteReader {
 public:
  explicit constexpr ByteReader(std::span<const uint8_t> data) noexcept : data_(data) {}

  constexpr uint8_t u8() noexcept {
    const uint8_t* p = take(1);
    return p ? p[0] : 0;
  }
  constexpr uint16_t u16() noexcept {
    const uint8_t* p = take(2);
    return p ? load_be16(p) : 0;
  }
  constexpr uint32_t u32() noexcept {
    const uint8_t* p = take(4);
    return p ? load_be32(p) : 0;
  }
  constexpr uint64_t u64() noexcept {
    const uint8_t* p = take(8);
    return p ? load_be64(p) : 0;
  }
  // The next n bytes, as a view into the input; empty (and failed) if fewer remain.
  constexpr std::span<const uint8_t> bytes(size_t n) noexcept {
    const uint8_t* p = take(n);
    return p ? std::span<const uint8_t>(p, n) : std::span<const uint8_t>{};
  }
  // Copies out.size() bytes into out; zero-fills it (and fails) if fewer remain.
  constexpr void read_into(std::span<uint8_t> out) noexcept {
    const uint8_t* p = take(out.size());
    if (p) {
      std::copy_n(p, out.size(), out.begin());
    } else {
      std::fill(out.begin(), out.end(), uint8_t{0});
    }
  }
  constexpr void skip(size_t n) noexcept { (void)take(n); }

  constexpr size_t remaining() const noexcept { return data_.size() - pos_; }
  constexpr size_t position() const noexcept { return pos_; }
  constexpr bool failed() const noexcept { return failed_; }

 private:
  constexpr const uint8_t* take(size_t n) noexcept {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return nullptr;
    }
    const uint8_t* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

class ByteWriter {
 public:
  explicit constexpr ByteWriter(std::span<uint8_t> out) noexcept : out_(out) {}

  constexpr void u8(uint8_t v) noexcept {
    if (uint8_t* p = take(1)) p[0] = v;
  }
  constexpr void u16(uint16_t v) noexcept {
    if (uint8_t* p = take(2)) store_be16(p, v);
  }
  constexpr void u32(uint32_t v) noexcept {
    if (uint8_t* p = take(4)) store_be32(p, v);
  }
  constexpr void u64(uint64_t v) noexcept {
    if (uint8_t* p = take(8)) store_be64(p, v);
  }
  constexpr void bytes(std::span<const uint8_t> v) noexcept {
    if (uint8_t* p = take(v.size())) std::copy(v.begin(), v.end(), p);
  }
  constexpr void zeros(size_t n) noexcept {
    if (uint8_t* p = take(n)) std::fill_n(p, n, uint8_t{0});
  }

  constexpr size_t written() const noexcept { return pos_; }
  constexpr size_t remaining() const noexcept { return out_.size() - pos_; }
  constexpr bool failed() const noexcept { return failed_; }

 private:
  constexpr uint8_t* take(size_t n) noexcept {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return nullptr;
    }
    uint8_t* p = out_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::span<uint8_t> out_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace ntm::wire
