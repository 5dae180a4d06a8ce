// tests/proto/reply_test.cpp — reply lines (RFC 5321 4.2) and the error table.
#include "proto/reply.hpp"

#include <gtest/gtest.h>

namespace ringmail::test {
namespace {

using proto::append_reply;
using proto::Error;

TEST(Reply, FormatsFinalAndContinuationLines) {
    std::string out;
    append_reply(out, 250, "", "mx Hello", true);
    append_reply(out, 250, "2.0.0", "OK");
    EXPECT_EQ(out, "250-mx Hello\r\n250 2.0.0 OK\r\n");
}

TEST(Reply, ReplacesControlBytes) {
    std::string out;
    append_reply(out, 550, "5.7.1", "a\r\nb\x7f\t\0c");
    EXPECT_EQ(out, "550 5.7.1 a  b  \r\n");  // string_view stops at the NUL of a literal
}

TEST(Reply, KeepsLinesWithin512Octets) {
    std::string out;
    append_reply(out, 550, "5.7.1", std::string(2000, 'x'));
    EXPECT_LE(out.size(), 512u);
    EXPECT_TRUE(out.ends_with("\r\n"));
}

TEST(Reply, EveryErrorHasAMatchingCodeClass) {
    for (const auto& r : proto::reply_for) {
        if (r.error == Error::None) continue;
        EXPECT_GE(r.code, 400) << r.text;
        EXPECT_LT(r.code, 600) << r.text;
        // RFC 3463: the enhanced class digit matches the reply's first digit.
        EXPECT_EQ(r.status[0] - '0', r.code / 100) << r.text;
    }
}

TEST(Reply, ErrorsUseRfcCodes) {
    EXPECT_EQ(proto::info(Error::LineTooLong).code, 500);
    EXPECT_EQ(proto::info(Error::TooManyRecipients).code, 452);
    EXPECT_EQ(proto::info(Error::SizeDeclaredTooBig).code, 552);
    EXPECT_EQ(proto::info(Error::MessageTooBig).code, 552);
    EXPECT_EQ(proto::info(Error::NonAsciiAddress).code, 553);
    EXPECT_EQ(proto::info(Error::TooManyErrors).code, 421);
    EXPECT_EQ(proto::info(Error::Timeout).code, 421);
}

}  // namespace
}  // namespace ringmail::test
