// base/duration.cpp — see duration.hpp. Only ASCII digits and one unit letter; no sign,
// no spaces, no fractions, so a typo ("5 m", "1.5h", "-5m") is an error and not a guess.
#include "base/duration.hpp"

#include <charconv>

namespace ringmail::base {

DurationParse parse_duration(std::string_view text) noexcept {
    if (text.empty()) return {0, DurationError::Empty};
    std::int64_t unit = 1;
    switch (text.back()) {
    case 's': unit = 1; text.remove_suffix(1); break;
    case 'm': unit = 60; text.remove_suffix(1); break;
    case 'h': unit = 3600; text.remove_suffix(1); break;
    case 'd': unit = 86400; text.remove_suffix(1); break;
    default:
        if (text.back() < '0' || text.back() > '9') return {0, DurationError::BadUnit};
        break;
    }
    if (text.empty() || text.front() < '0' || text.front() > '9') return {0, DurationError::NotANumber};
    std::uint64_t n = 0;
    const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc::result_out_of_range) return {0, DurationError::TooLarge};
    if (ec != std::errc{}) return {0, DurationError::NotANumber};
    if (p != text.data() + text.size()) return {0, DurationError::NotANumber};  // "1.5h", "5 m"
    if (n > static_cast<std::uint64_t>(kMaxDurationSeconds / unit)) return {0, DurationError::TooLarge};
    return {static_cast<std::int64_t>(n) * unit, DurationError::None};
}

std::string_view describe(DurationError e) noexcept {
    switch (e) {
    case DurationError::None: return "no error";
    case DurationError::Empty: return "empty duration (expected e.g. 90s, 5m, 4h, 5d or a number of seconds)";
    case DurationError::NotANumber: return "not a duration (expected digits then s, m, h or d, e.g. 90s, 5m, 4h, 5d)";
    case DurationError::BadUnit: return "unknown unit (expected s, m, h or d, e.g. 90s, 5m, 4h, 5d)";
    case DurationError::TooLarge: return "duration too large (at most 100 years)";
    }
    return "unknown error";
}

}  // namespace ringmail::base
