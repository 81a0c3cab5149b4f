// Decoded<T>: the result of a strict decoder, either a value or the reason it was rejected.
// A tiny stand-in for std::expected<T, DecodeError> (gcc 12 has no <expected>).
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace ntm::wire {

// Why a decoder rejected its input. Decoders check in a fixed, documented order and report the
// first failure.
enum class DecodeError {
  truncated,     // shorter than the format requires (or than its own length field claims)
  oversized,     // longer than the format allows
  unknown_type,  // a type/version byte this codec does not handle
  bad_field,     // a field holds a value the format forbids (non-zero reserved bits, ...)
};

constexpr const char* to_string(DecodeError e) noexcept {
  switch (e) {
    case DecodeError::truncated: return "truncated";
    case DecodeError::oversized: return "oversized";
    case DecodeError::unknown_type: return "unknown_type";
    case DecodeError::bad_field: return "bad_field";
  }
  return "?";
}

template <class T>
class [[nodiscard]] Decoded {
 public:
  // Implicit on purpose, so decoders can `return value;` or `return DecodeError::truncated;`.
  Decoded(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Decoded(DecodeError error) : state_(std::in_place_index<1>, error) {}    // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Precondition: ok().
  const T& value() const& {
    assert(ok());
    return *std::get_if<0>(&state_);
  }
  T& value() & {
    assert(ok());
    return *std::get_if<0>(&state_);
  }
  T&& value() && {
    assert(ok());
    return std::move(*std::get_if<0>(&state_));
  }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

  // Precondition: !ok().
  DecodeError error() const {
    assert(!ok());
    return *std::get_if<1>(&state_);
  }

 private:
  std::variant<T, DecodeError> state_;
};

}  // namespace ntm::wire
