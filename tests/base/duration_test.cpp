// tests/base/duration_test.cpp — base/duration: the units of issue 14, and every typo an
// error rather than a guess.
#include "base/duration.hpp"

#include <gtest/gtest.h>

namespace ringmail::base {
namespace {

TEST(Duration, ParsesEachUnit) {
    const struct {
        const char* text;
        std::int64_t seconds;
    } cases[] = {{"90s", 90}, {"5m", 300}, {"4h", 14400}, {"5d", 432000}, {"0s", 0}, {"36500d", kMaxDurationSeconds}};
    for (const auto& c : cases) {
        const DurationParse p = parse_duration(c.text);
        EXPECT_EQ(p.error, DurationError::None) << c.text;
        EXPECT_EQ(p.seconds, c.seconds) << c.text;
    }
}

TEST(Duration, BareNumberIsSeconds) {
    EXPECT_EQ(parse_duration("300").seconds, 300);
    EXPECT_EQ(parse_duration("300").error, DurationError::None);
    EXPECT_EQ(parse_duration("0").seconds, 0);
}

TEST(Duration, RejectsTyposWithTheirReason) {
    const struct {
        const char* text;
        DurationError error;
    } cases[] = {
        {"", DurationError::Empty},          {"m", DurationError::NotANumber},
        {"5x", DurationError::BadUnit},      {"5M", DurationError::BadUnit},
        {"-5m", DurationError::NotANumber},  {"+5m", DurationError::NotANumber},
        {"1.5h", DurationError::NotANumber}, {"5 m", DurationError::NotANumber},
        {" 5m", DurationError::NotANumber},  {"5m5s", DurationError::NotANumber},
        {"36501d", DurationError::TooLarge}, {"99999999999999999999", DurationError::TooLarge},
        {"5w", DurationError::BadUnit},
    };
    for (const auto& c : cases) {
        const DurationParse p = parse_duration(c.text);
        EXPECT_EQ(p.error, c.error) << "'" << c.text << "'";
        EXPECT_EQ(p.seconds, 0) << c.text;
    }
}

TEST(Duration, EveryErrorHasAMessageThatShowsTheForm) {
    for (const DurationError e : {DurationError::Empty, DurationError::NotANumber, DurationError::BadUnit})
        EXPECT_NE(describe(e).find("5m"), std::string_view::npos);
    EXPECT_NE(describe(DurationError::TooLarge).find("100 years"), std::string_view::npos);
}

}  // namespace
}  // namespace ringmail::base
