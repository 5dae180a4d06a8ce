// tests/relay/mx_cache_test.cpp — MxCache keeps an answer for its TTL and no longer, holds
// at most its capacity (least recently used out first), and keeps nothing with TTL 0.
#include "relay/mx_cache.hpp"

#include <gtest/gtest.h>

namespace ringmail::relay {
namespace {

MxResult answer(std::string domain, std::uint32_t ttl) {
    MxResult r;
    r.status = MxStatus::NxDomain;
    r.domain = std::move(domain);
    r.ttl = ttl;
    return r;
}

TEST(MxCache, KeepsAnAnswerForItsTtl) {
    MxCache c(10);
    c.put(answer("a.example", 60), 1000);
    std::uint32_t left = 0;
    ASSERT_NE(c.get("a.example", 1000, &left), nullptr);
    EXPECT_EQ(left, 60u);
    EXPECT_NE(c.get("a.example", 60'999, &left), nullptr);
    EXPECT_EQ(left, 1u);
    EXPECT_EQ(c.get("a.example", 61'000), nullptr);
    EXPECT_EQ(c.size(), 0u);  // the expired entry went at the lookup
}

TEST(MxCache, ZeroTtlIsNotKept) {
    MxCache c(10);
    c.put(answer("a.example", 0), 0);
    EXPECT_EQ(c.get("a.example", 0), nullptr);
    MxCache none(0);
    none.put(answer("a.example", 60), 0);
    EXPECT_EQ(none.get("a.example", 0), nullptr);
}

TEST(MxCache, BoundedLeastRecentlyUsedGoesFirst) {
    MxCache c(2);
    c.put(answer("a", 60), 0);
    c.put(answer("b", 60), 0);
    ASSERT_NE(c.get("a", 1), nullptr);  // a is now the most recent
    c.put(answer("c", 60), 2);
    EXPECT_EQ(c.size(), 2u);
    EXPECT_NE(c.get("a", 3), nullptr);
    EXPECT_EQ(c.get("b", 3), nullptr);
    EXPECT_NE(c.get("c", 3), nullptr);
}

TEST(MxCache, ANewerAnswerReplacesTheOld) {
    MxCache c(2);
    c.put(answer("a", 10), 0);
    auto r = answer("a", 100);
    r.status = MxStatus::NullMx;
    c.put(r, 5000);
    EXPECT_EQ(c.size(), 1u);
    const MxResult* got = c.get("a", 50'000);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->status, MxStatus::NullMx);
}

}  // namespace
}  // namespace ringmail::relay
