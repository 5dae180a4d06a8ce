// tests/base/log_test.cpp — log::Line's fields: text and JSON escaping checked against the
// octet-at-a-time definition on every single octet and on random strings, numbers, and a
// line built in the thread's spare buffer after another.
#include "base/log.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

namespace ringmail::log {
namespace {

std::string hex(unsigned char c) {
    char b[3];
    std::snprintf(b, sizeof b, "%02X", c);  // base::append_hex writes upper case
    return b;
}

// The definitions, one octet at a time.
std::string text_field(const std::string& v) {
    const bool quote = v.empty() || v.find_first_of(" \"\\=") != std::string::npos;
    std::string out = quote ? "\"" : "";
    for (const char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') out += std::string("\\") + ch;
        else if (c < 0x20 || c >= 0x7f) out += "\\x" + hex(c);
        else out += ch;
    }
    return out + (quote ? "\"" : "");
}

std::string json_field(const std::string& v) {
    std::string out = "\"";
    for (const char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') out += std::string("\\") + ch;
        else if (c < 0x20 || c >= 0x7f) out += "\\u00" + hex(c);
        else out += ch;
    }
    return out + "\"";
}

std::string text_line(const std::string& v) {
    std::string out;
    Line("e", Format::Text).str("k", v).append_to(out);
    return out;
}

std::string json_line(const std::string& v) {
    std::string out;
    Line("e", Format::Json).str("k", v).append_to(out);
    const std::size_t at = out.find(",\"k\":");
    return at == std::string::npos ? out : out.substr(at + 5, out.size() - at - 5 - 2);  // less "}\n"
}

void check(const std::string& v) {
    EXPECT_EQ(text_line(v), "ringmail: e k=" + text_field(v) + "\n");
    EXPECT_EQ(json_line(v), json_field(v));
}

TEST(LogLine, EveryOctetIsEscapedAsDefined) {
    for (int c = 0; c < 256; ++c) {
        check(std::string(1, static_cast<char>(c)));
        check("ab" + std::string(1, static_cast<char>(c)) + "cd");
    }
    check("");
}

TEST(LogLine, RandomStringsAreEscapedAsDefined) {
    std::mt19937 rng(17);
    const std::string alphabet = std::string("abc =\"\\\x01\x7f\xc3\xa9", 11);
    for (int i = 0; i < 2000; ++i) {
        std::string v(rng() % 40, ' ');
        for (char& ch : v) ch = (rng() % 4 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
        check(v);
    }
}

TEST(LogLine, NumbersAndASecondLineOnTheSameThread) {
    std::string out;
    Line("message", Format::Text).num("size", 0).num("max", UINT64_MAX).str("from", "a@b").append_to(out);
    {
        Line inner("inner", Format::Text);  // two alive at once: the second has its own buffer
        inner.num("n", 7);
        Line("outer", Format::Text).str("k", "v").append_to(out);
        inner.append_to(out);
    }
    EXPECT_EQ(out, "ringmail: message size=0 max=18446744073709551615 from=a@b\n"
                   "ringmail: outer k=v\n"
                   "ringmail: inner n=7\n");
}

}  // namespace
}  // namespace ringmail::log
