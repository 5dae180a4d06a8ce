// base/duration.hpp — durations as mail.ini writes them (issue 14): `90s`, `5m`, `4h`, `5d`,
// a bare number meaning seconds. Pure: text in, seconds or an error value out.
// Invariant: a parse either gives seconds in [0, kMaxDurationSeconds] or an error, never both.
#pragma once
#include <cstdint>
#include <string_view>

namespace ringmail::base {

enum class DurationError : std::uint8_t { None, Empty, NotANumber, BadUnit, TooLarge };

// 100 years: far past any retry cap or maximum age, and far below int64 overflow.
inline constexpr std::int64_t kMaxDurationSeconds = std::int64_t(100) * 365 * 86400;

struct DurationParse {
    std::int64_t seconds = 0;
    DurationError error = DurationError::None;
};

DurationParse parse_duration(std::string_view text) noexcept;

// One clause for an error message: "expected a number of seconds or a number followed by
// s, m, h or d, e.g. 90s, 5m, 4h, 5d".
std::string_view describe(DurationError e) noexcept;

}  // namespace ringmail::base
