// tests/relay/timestamp_test.cpp — relay/timestamp: ISO 8601 as --not-before takes it and
// as `queue show` writes it; message ids as text.
#include "relay/timestamp.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "relay/message_id.hpp"

namespace ringmail::relay {
namespace {

constexpr Time k2026_12_06T19_42_17Z = 1796586137;

TEST(Timestamp, ParsesUtcAndOffsets) {
    const struct {
        const char* text;
        Time time;
    } cases[] = {
        {"2026-12-06T19:42:17Z", k2026_12_06T19_42_17Z},
        {"2026-12-06t19:42:17z", k2026_12_06T19_42_17Z},
        {"2026-12-06 19:42:17Z", k2026_12_06T19_42_17Z},
        {"2026-12-06T19:42:17.999Z", k2026_12_06T19_42_17Z},
        {"2026-12-06T21:42:17+02:00", k2026_12_06T19_42_17Z},
        {"2026-12-06T21:42:17+0200", k2026_12_06T19_42_17Z},
        {"2026-12-06T21:42:17+02", k2026_12_06T19_42_17Z},
        {"2026-12-06T14:12:17-05:30", k2026_12_06T19_42_17Z},
        {"2026-12-06T19:42Z", k2026_12_06T19_42_17Z - 17},
        {"1970-01-01T00:00:00Z", 0},
        {"2024-02-29T00:00:00Z", 1709164800},
    };
    for (const auto& c : cases) {
        const TimestampParse p = parse_iso8601(c.text);
        EXPECT_EQ(p.error, TimestampError::None) << c.text;
        EXPECT_EQ(p.time, c.time) << c.text;
    }
}

TEST(Timestamp, WithoutZoneIsLocalTime) {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    EXPECT_EQ(parse_iso8601("2026-12-06T19:42:17").time, k2026_12_06T19_42_17Z);
    EXPECT_EQ(parse_iso8601("2026-12-06").time, k2026_12_06T19_42_17Z - (19 * 3600 + 42 * 60 + 17));
    ::setenv("TZ", "EST5", 1);  // a fixed 5 hours west, no summer time
    ::tzset();
    EXPECT_EQ(parse_iso8601("2026-12-06T14:42:17").time, k2026_12_06T19_42_17Z);
    ::unsetenv("TZ");
    ::tzset();
}

TEST(Timestamp, RejectsBadDates) {
    const struct {
        const char* text;
        TimestampError error;
    } cases[] = {
        {"", TimestampError::Syntax},
        {"tomorrow", TimestampError::Syntax},
        {"2026-1-06", TimestampError::Syntax},
        {"2026-12-06T", TimestampError::Syntax},
        {"2026-12-06T19", TimestampError::Syntax},
        {"2026-12-06T19:42:17ZZ", TimestampError::Syntax},
        {"2026-12-06T19:42:17 UTC", TimestampError::Syntax},
        {"2026-12-06T19:42:17+2", TimestampError::Syntax},
        {"2026-12-06T19:42:17.", TimestampError::Syntax},
        {"2026-13-01", TimestampError::OutOfRange},
        {"2026-02-29", TimestampError::OutOfRange},
        {"2026-04-31", TimestampError::OutOfRange},
        {"2026-12-06T24:00:00Z", TimestampError::OutOfRange},
        {"2026-12-06T19:60:00Z", TimestampError::OutOfRange},
        {"2026-12-06T19:42:60Z", TimestampError::OutOfRange},
        {"2026-12-06T19:42:17+24:00", TimestampError::OutOfRange},
        {"1969-12-31T23:59:59Z", TimestampError::OutOfRange},
    };
    for (const auto& c : cases) EXPECT_EQ(parse_iso8601(c.text).error, c.error) << "'" << c.text << "'";
}

TEST(Timestamp, FormatsUtcAndRoundTrips) {
    EXPECT_EQ(format_iso8601(k2026_12_06T19_42_17Z), "2026-12-06T19:42:17Z");
    EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00Z");
    for (const Time t : {Time(0), Time(951782400), Time(1709164800), k2026_12_06T19_42_17Z, Time(253402300799)}) {
        const TimestampParse p = parse_iso8601(format_iso8601(t));
        EXPECT_EQ(p.error, TimestampError::None) << t;
        EXPECT_EQ(p.time, t) << format_iso8601(t);
    }
}

TEST(MessageId, SixteenHexDigitsThatSortAsNumbers) {
    const MessageId a{0x0191d2c4a7f00001}, b{0x0191d2c4a7f00002}, c{0x0191d2c4a8000000};
    EXPECT_EQ(a.text(), "0191d2c4a7f00001");
    EXPECT_LT(a.text(), b.text());
    EXPECT_LT(b.text(), c.text());
    EXPECT_EQ(MessageId{1}.text(), "0000000000000001");
    for (const MessageId id : {a, b, c, MessageId{0}, MessageId{INT64_MAX}}) {
        const auto back = MessageId::parse(id.text());
        ASSERT_TRUE(back.has_value()) << id.text();
        EXPECT_EQ(*back, id);
    }
    EXPECT_EQ(MessageId::parse("0191D2C4A7F00001"), a);
}

TEST(MessageId, RejectsAnythingElse) {
    for (const char* s : {"", "0191d2c4a7f0000", "0191d2c4a7f000011", "0191d2c4a7f0000g", "8000000000000000",
                          "ffffffffffffffff", "../../etc/passwd", "0191d2c4a7f0000 "})
        EXPECT_FALSE(MessageId::parse(s).has_value()) << s;
}

}  // namespace
}  // namespace ringmail::relay
