// tests/proto/sasl_test.cpp — strict SASL base64 (RFC 4648 4) and PLAIN (RFC 4616 2).
#include "proto/sasl.hpp"

#include <gtest/gtest.h>

namespace ringmail::test {
namespace {

using proto::sasl_base64_decode;
using proto::sasl_base64_encode;

TEST(SaslBase64, RoundTripsAllLengths) {
    std::string s;
    for (int i = 0; i < 40; ++i) {
        EXPECT_EQ(sasl_base64_decode(sasl_base64_encode(s)), s);
        s.push_back(static_cast<char>(i * 37));
    }
}

TEST(SaslBase64, KnownVectors) {  // RFC 4648 10
    EXPECT_EQ(sasl_base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(sasl_base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(sasl_base64_decode("Zm9vYmFy"), "foobar");
    EXPECT_EQ(sasl_base64_decode(""), "");
}

TEST(SaslBase64, RejectsMalformed) {
    for (const char* bad : {"Zm9", "Zm9vY", "Zm=v", "====", "Zg==Zg==", "Zm9v\r\n", "Zm 9v", "Zg=a"})
        EXPECT_FALSE(sasl_base64_decode(bad).has_value()) << bad;
}

TEST(SaslPlain, SplitsAuthcidAndPassword) {
    const auto c = proto::split_plain(std::string("admin\0u\0p w", 11));
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->user, "u");
    EXPECT_EQ(c->password, "p w");
}

TEST(SaslPlain, RejectsMalformed) {
    EXPECT_FALSE(proto::split_plain("u").has_value());
    EXPECT_FALSE(proto::split_plain(std::string("\0u", 2)).has_value());
    EXPECT_FALSE(proto::split_plain(std::string("\0\0p", 3)).has_value());  // empty authcid
    EXPECT_FALSE(proto::split_plain(std::string("\0u\0p\0", 5)).has_value());
}

}  // namespace
}  // namespace ringmail::test
