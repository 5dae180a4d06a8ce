// tests/relay/retry_test.cpp — backoff and giving up (relay/retry.hpp).
#include "relay/retry.hpp"

#include <gtest/gtest.h>

namespace ringmail::relay {
namespace {

TEST(Retry, DoublesFromTheBaseUpToTheCapWithTenPercentJitter) {
    RetryPolicy p;  // 5 min, 4 h
    const Time now = 1'000'000;
    // random % 21 == 10: no jitter at all.
    EXPECT_EQ(next_try(p, 1, now, 10) - now, 300);
    EXPECT_EQ(next_try(p, 2, now, 10) - now, 600);
    EXPECT_EQ(next_try(p, 3, now, 10) - now, 1200);
    EXPECT_EQ(next_try(p, 7, now, 10) - now, 4 * 3600);   // 300 * 64 = 19200 > 14400
    EXPECT_EQ(next_try(p, 1000, now, 10) - now, 4 * 3600);
    EXPECT_EQ(next_try(p, 1, now, 0) - now, 270);         // 90 %
    EXPECT_EQ(next_try(p, 1, now, 20) - now, 330);        // 110 %
    RetryPolicy tiny;
    tiny.base = 1;
    tiny.max = 1;
    EXPECT_GE(next_try(tiny, 1, now, 0) - now, 1);        // never now itself
}

TEST(Retry, GivesUpAtMaxAttemptsOrMaxAge) {
    RetryPolicy p;
    p.max_attempts = 3;
    p.max_age = 86400;
    EXPECT_FALSE(give_up(p, 2, 0, 100));
    EXPECT_TRUE(give_up(p, 3, 0, 100));
    EXPECT_TRUE(give_up(p, 1, 0, 86400));
    p.max_attempts = 0;  // no limit on tries
    EXPECT_FALSE(give_up(p, 1000, 0, 100));
}

}  // namespace
}  // namespace ringmail::relay
