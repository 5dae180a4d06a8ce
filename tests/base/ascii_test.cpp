// tests/base/ascii_test.cpp — the one case-insensitive compare folds letters only.
#include "base/ascii.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringmail::base {
namespace {

TEST(Ascii, FoldsLettersOnly) {
    EXPECT_TRUE(iequals("Content-Transfer-Encoding", "content-transfer-encoding"));
    EXPECT_TRUE(iequals("BASE64", "base64"));
    EXPECT_FALSE(iequals("base64", "base6"));
}

// `| 0x20` folding made "base\x16\x14" equal "base64" ('6' = 0x36, '4' = 0x34).
TEST(Ascii, ControlBytesNeverMatchLetters) {
    EXPECT_FALSE(iequals(std::string("base\x16\x14", 6), "base64"));
    EXPECT_FALSE(iequals(std::string("\x17" "BIT", 4), "7BIT"));
    EXPECT_FALSE(iequals(std::string("FROM\x1a", 5), "FROM:"));
    for (int c = 0; c < 256; ++c) {
        for (int d = 0; d < 256; ++d) {
            const char a = static_cast<char>(c), b = static_cast<char>(d);
            const bool same_letter = is_alpha(a) && is_alpha(b) && (c | 0x20) == (d | 0x20);
            EXPECT_EQ(iequals({&a, 1}, {&b, 1}), c == d || same_letter) << c << " " << d;
        }
    }
}

TEST(Ascii, StartsWith) {
    EXPECT_TRUE(istarts_with("mail from:<a@b>", "MAIL FROM:"));
    EXPECT_FALSE(istarts_with("MAIL FROM\x1a<a@b>", "MAIL FROM:"));
    EXPECT_FALSE(istarts_with("MAIL", "MAIL FROM:"));
}

TEST(Ascii, Hex) {
    EXPECT_EQ(hex_value('0'), 0);
    EXPECT_EQ(hex_value('f'), 15);
    EXPECT_EQ(hex_value('F'), 15);
    EXPECT_EQ(hex_value('g'), -1);
    EXPECT_EQ(hex_value('\x10'), -1);
    EXPECT_EQ(hex_encode(std::string("\x00\xff\x1a", 3)), "00ff1a");
    std::string s;
    append_hex(s, 0xab);
    EXPECT_EQ(s, "AB");
}

}  // namespace
}  // namespace ringmail::base
