// relay/timestamp.cpp — see timestamp.hpp. Days from a civil date by Howard Hinnant's
// days_from_civil, so UTC needs no time zone database and no global state; only a time
// without a zone asks the C library (mktime) for the local offset.
#include "relay/timestamp.hpp"

#include <cstdio>
#include <ctime>

namespace ringmail::relay {
namespace {

constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
    std::int64_t y;
    unsigned m, d;
};
constexpr Civil civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

bool leap(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
    static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) noexcept {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const char c = s[pos + i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    pos += n;
    out = v;
    return true;
}

bool take(std::string_view s, std::size_t& pos, char c) noexcept {
    if (pos < s.size() && s[pos] == c) {
        ++pos;
        return true;
    }
    return false;
}

}  // namespace

TimestampParse parse_iso8601(std::string_view s) {
    std::size_t pos = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (!digits(s, pos, 4, y) || !take(s, pos, '-') || !digits(s, pos, 2, mo) || !take(s, pos, '-') ||
        !digits(s, pos, 2, d))
        return {0, TimestampError::Syntax};
    if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
        ++pos;
        if (!digits(s, pos, 2, h) || !take(s, pos, ':') || !digits(s, pos, 2, mi)) return {0, TimestampError::Syntax};
        if (take(s, pos, ':')) {
            if (!digits(s, pos, 2, sec)) return {0, TimestampError::Syntax};
            if (take(s, pos, '.') || take(s, pos, ',')) {
                const std::size_t start = pos;
                while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
                if (pos == start) return {0, TimestampError::Syntax};
            }
        }
    }
    bool zoned = false;
    int offset = 0;  // seconds east of UTC
    if (take(s, pos, 'Z') || take(s, pos, 'z')) {
        zoned = true;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        const int sign = s[pos++] == '-' ? -1 : 1;
        int oh = 0, om = 0;
        if (!digits(s, pos, 2, oh)) return {0, TimestampError::Syntax};
        const bool colon = take(s, pos, ':');
        if ((colon || pos < s.size()) && !digits(s, pos, 2, om)) return {0, TimestampError::Syntax};
        if (oh > 23 || om > 59) return {0, TimestampError::OutOfRange};
        zoned = true;
        offset = sign * (oh * 3600 + om * 60);
    }
    if (pos != s.size()) return {0, TimestampError::Syntax};
    // 60 would be a leap second: ISO 8601 allows it, but the queue has no use for it.
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
        static_cast<unsigned>(d) > days_in_month(y, static_cast<unsigned>(mo)) || h > 23 || mi > 59 || sec > 59)
        return {0, TimestampError::OutOfRange};
    if (zoned) {
        const Time t = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                       h * 3600 + mi * 60 + sec - offset;
        return {t, TimestampError::None};
    }
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;  // let the zone rules say whether summer time applies
    const std::time_t t = std::mktime(&tm);
    if (t == static_cast<std::time_t>(-1)) return {0, TimestampError::OutOfRange};
    return {static_cast<Time>(t), TimestampError::None};
}

std::string format_iso8601(Time t) {
    std::int64_t days = t / 86400;
    std::int64_t rest = t % 86400;
    if (rest < 0) {
        rest += 86400;
        --days;
    }
    const Civil c = civil_from_days(days);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ", static_cast<long long>(c.y), c.m, c.d,
                  static_cast<int>(rest / 3600), static_cast<int>(rest / 60 % 60), static_cast<int>(rest % 60));
    return buf;
}

std::string_view describe(TimestampError e) noexcept {
    switch (e) {
    case TimestampError::None: return "no error";
    case TimestampError::Syntax:
        return "not an ISO 8601 date (expected YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss] with Z or +hh:mm, "
               "e.g. 2026-12-06T19:42:00Z)";
    case TimestampError::OutOfRange: return "date or time out of range (years 1970-9999)";
    }
    return "unknown error";
}

}  // namespace ringmail::relay
