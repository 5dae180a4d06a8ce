// tests/base/growth_test.cpp — large buffers grow in few steps, and keep their bytes.
#include <gtest/gtest.h>

#include "base/growth.hpp"

namespace ringmail::base {
namespace {

// Appends 10 MiB in 4 KiB pieces; returns how many times the buffer moved.
int moves(std::size_t room, std::string& s) {
    const std::string piece(4096, 'x');
    int moved = 0;
    const char* where = s.data();
    for (int i = 0; i < 2560; ++i) {
        append_growing(s, piece, room);
        if (s.data() != where) ++moved, where = s.data();
    }
    return moved;
}

TEST(Growth, PastOneMebibyteGrowsToTheRoomAtOnce) {
    std::string s;
    const int moved = moves(16u << 20, s);
    EXPECT_EQ(s.size(), 10u << 20);
    EXPECT_EQ(s.find_first_not_of('x'), std::string::npos);
    EXPECT_GE(s.capacity(), 16u << 20);
    // Doubling up to 1 MiB (about 9 moves from 4 KiB), then one move to the room.
    EXPECT_LE(moved, 10);
    EXPECT_LT(s.capacity(), (16u << 20) + 4096);
}

TEST(Growth, WithoutRoomGrowsFourfold) {
    std::string s;
    const int moved = moves(0, s);
    EXPECT_EQ(s.size(), 10u << 20);
    // 4 KiB..1 MiB doubling, then 4 MiB, 16 MiB: never the 2 MiB / 8 MiB steps.
    EXPECT_GE(s.capacity(), 16u << 20);
    EXPECT_LE(moved, 11);
}

TEST(Growth, SmallBuffersGrowAsStrings) {
    std::string s;
    append_growing(s, "abc", 64u << 20);
    EXPECT_EQ(s, "abc");
    EXPECT_LT(s.capacity(), 1024u);  // the room is not reserved for small bodies
}

}  // namespace
}  // namespace ringmail::base
