// tests/proto/path_test.cpp — RFC 5321 4.1.2 paths and ESMTP parameters.
#include "proto/path.hpp"

#include <gtest/gtest.h>

namespace ringmail::test {
namespace {

using proto::Error;
using proto::parse_path;

TEST(Path, ParsesMailboxAndParams) {
    const auto p = parse_path("<a.b+c@example.org> SIZE=10", false);
    EXPECT_EQ(p.error, Error::None);
    EXPECT_EQ(p.address, "a.b+c@example.org");
    EXPECT_EQ(p.params, "SIZE=10");
}

TEST(Path, NullPathIsSenderOnly) {
    EXPECT_EQ(parse_path("<>", false).error, Error::None);
    EXPECT_EQ(parse_path("<>", false).address, "");
    EXPECT_EQ(parse_path("<>", true).error, Error::BadRecipient);
}

TEST(Path, ToleratesSpaceBeforeBracket) {
    EXPECT_EQ(parse_path(" <a@example.org>", false).address, "a@example.org");
}

TEST(Path, QuotedLocalPart) {
    const auto p = parse_path("<\"a b\\\"c\"@example.org>", true);
    EXPECT_EQ(p.error, Error::None);
    EXPECT_EQ(p.address, "\"a b\\\"c\"@example.org");
    EXPECT_EQ(parse_path("<\"a>b\"@example.org>", true).address, "\"a>b\"@example.org");
}

TEST(Path, AddressLiteral) {
    EXPECT_EQ(parse_path("<a@[192.0.2.1]>", true).error, Error::None);
    EXPECT_EQ(parse_path("<a@[IPv6:2001:db8::1]>", true).error, Error::None);
    EXPECT_EQ(parse_path("<a@[]>", true).error, Error::BadRecipient);
}

TEST(Path, RejectsMalformed) {
    for (const char* bad : {"a@example.org", "<a@example.org", "<@example.org>", "<a@>",
                            "<a..b@example.org>", "<.a@example.org>", "<a.@example.org>",
                            "<a b@example.org>", "<a@exa mple.org>", "<a@-x.org>", "<a@x-.org>",
                            "<a@x..org>", "<a@example.org>x", "<a(b)@example.org>", "<a>",
                            "<@relay:>", "<@relay>"}) {
        EXPECT_EQ(parse_path(bad, true).error, Error::BadRecipient) << bad;
        EXPECT_EQ(parse_path(bad, false).error, Error::BadSender) << bad;
    }
}

TEST(Path, Lengths) {
    // RFC 5321 4.5.3.1.1: local part 64 octets, 4.5.3.1.3: path 256 with brackets.
    EXPECT_EQ(parse_path("<" + std::string(64, 'a') + "@x.org>", true).error, Error::None);
    EXPECT_EQ(parse_path("<" + std::string(65, 'a') + "@x.org>", true).error, Error::BadRecipient);
    const std::string label(63, 'd');
    EXPECT_EQ(parse_path("<a@" + label + ".org>", true).error, Error::None);
    EXPECT_EQ(parse_path("<a@" + label + "d.org>", true).error, Error::BadRecipient);
    std::string domain;
    while (domain.size() < 260) domain += label + ".";
    domain += "org";
    EXPECT_EQ(parse_path("<a@" + domain + ">", true).error, Error::BadRecipient);
}

TEST(Path, FlagsNonAscii) {
    EXPECT_TRUE(parse_path("<j\xc3\xb6rg@example.org>", false).non_ascii);
    EXPECT_FALSE(parse_path("<jorg@example.org>", false).non_ascii);
}

TEST(Path, PostmasterOnlyForRecipients) {
    EXPECT_EQ(parse_path("<postmaster>", true).error, Error::None);
    EXPECT_EQ(parse_path("<POSTMASTER>", true).error, Error::None);
    EXPECT_EQ(parse_path("<postmaster>", false).error, Error::BadSender);
}

TEST(MailParams, KnownParameters) {
    const auto m = proto::parse_mail_params("SIZE=1000 BODY=8BITMIME SMTPUTF8 AUTH=<>");
    EXPECT_EQ(m.error, Error::None);
    EXPECT_EQ(m.size, 1000u);
    EXPECT_TRUE(m.smtputf8);
    EXPECT_EQ(proto::parse_mail_params("size=5 body=7bit").error, Error::None);
}

TEST(MailParams, RejectsBadOrUnknown) {
    EXPECT_EQ(proto::parse_mail_params("SIZE=").error, Error::SyntaxArgs);
    EXPECT_EQ(proto::parse_mail_params("SIZE=1x").error, Error::SyntaxArgs);
    EXPECT_EQ(proto::parse_mail_params("SIZE=-1").error, Error::SyntaxArgs);
    EXPECT_EQ(proto::parse_mail_params("=x").error, Error::SyntaxArgs);
    EXPECT_EQ(proto::parse_mail_params("BODY=BINARYMIME").error, Error::UnknownParameter);
    EXPECT_EQ(proto::parse_mail_params("SMTPUTF8=yes").error, Error::UnknownParameter);
    EXPECT_EQ(proto::parse_mail_params("RET=FULL").error, Error::UnknownParameter);
    // Case folding is for letters only: "\x17" | 0x20 == '7'.
    EXPECT_EQ(proto::parse_mail_params("BODY=\x17" "BIT").error, Error::UnknownParameter);
}

TEST(RcptParams, NoneSupported) {
    EXPECT_EQ(proto::check_rcpt_params(""), Error::None);
    EXPECT_EQ(proto::check_rcpt_params("NOTIFY=NEVER"), Error::UnknownParameter);
}

}  // namespace
}  // namespace ringmail::test
