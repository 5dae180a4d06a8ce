// tests/smtpd/body_pool_test.cpp — the reactor's spare body buffers: what it keeps, what it
// frees, and that a buffer comes back with its capacity and no content.
#include "smtpd/body_pool.hpp"

#include <gtest/gtest.h>

namespace ringmail::smtpd {
namespace {

std::string buffer(std::size_t capacity) {
    std::string s;
    s.reserve(capacity);
    s.assign(100, 'x');
    return s;
}

TEST(BodyPool, KeepsBuffersAndLendsThemBackEmpty) {
    BodyPool pool;
    EXPECT_TRUE(pool.empty());
    std::string b = buffer(4096);
    const char* where = b.data();
    pool.give(std::move(b));
    ASSERT_FALSE(pool.empty());
    const std::string back = pool.take();
    EXPECT_EQ(back.data(), where);
    EXPECT_TRUE(back.empty());
    EXPECT_GE(back.capacity(), 4096u);
    EXPECT_TRUE(pool.empty());
}

TEST(BodyPool, FreesWhatIsTooSmallTooBigOrPastItsBounds) {
    BodyPool pool;
    pool.give(std::string("short"));  // no heap buffer at all
    pool.give(buffer(BodyPool::kMaxCapacity + 1));
    EXPECT_TRUE(pool.empty());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < BodyPool::kMaxBytes / BodyPool::kMaxCapacity + 4; ++i) pool.give(buffer(BodyPool::kMaxCapacity));
    while (!pool.empty()) {
        (void)pool.take();
        ++kept;
    }
    EXPECT_EQ(kept, BodyPool::kMaxBytes / BodyPool::kMaxCapacity);  // by bytes
    for (std::size_t i = 0; i < BodyPool::kMaxKept + 10; ++i) pool.give(buffer(64));
    kept = 0;
    while (!pool.empty()) {
        (void)pool.take();
        ++kept;
    }
    EXPECT_EQ(kept, BodyPool::kMaxKept);  // by count
    pool.give(buffer(1000));
    pool.clear();
    EXPECT_TRUE(pool.empty());
}

}  // namespace
}  // namespace ringmail::smtpd
