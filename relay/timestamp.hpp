// relay/timestamp.hpp — points in time as the queue stores and shows them: whole seconds
// since the Unix epoch, written as ISO 8601 / RFC 3339 in UTC ("2026-12-06T19:42:17Z").
// Parses what an operator types for --not-before: a date, a date and time, with or
// without seconds, with `Z`, an offset (`+02:00`, `+0200`, `+02`) or none (local time).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::relay {

using Time = std::int64_t;  // seconds since 1970-01-01T00:00:00Z

enum class TimestampError : std::uint8_t { None, Syntax, OutOfRange };

struct TimestampParse {
    Time time = 0;
    TimestampError error = TimestampError::None;
};

// "YYYY-MM-DD[(T| )hh:mm[:ss[.fraction]]][Z|(+|-)hh[[:]mm]]"; years 1970-9999. A fraction is
// dropped (the queue counts whole seconds). Without a zone the time is local (ISO 8601 4.2.2.2).
TimestampParse parse_iso8601(std::string_view text);

// "YYYY-MM-DDThh:mm:ssZ".
std::string format_iso8601(Time t);

std::string_view describe(TimestampError e) noexcept;

}  // namespace ringmail::relay
