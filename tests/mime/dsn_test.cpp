// tests/mime/dsn_test.cpp — bounce messages (RFC 3464 / 6522): the report's fields, the
// status taken from replies, and what a hostile reply or original cannot do to them.
#include <gtest/gtest.h>

#include "mime/dsn.hpp"
#include "mime/stream_parser.hpp"

namespace ringmail::mime {
namespace {

DsnInput sample() {
    DsnInput in;
    in.reporting_mta = "mx.example.org";
    in.to = "sender@example.org";
    in.arrival_date = "Sun, 6 Dec 2026 22:00:00 +0000";
    in.date = "Sun, 6 Dec 2026 23:00:00 +0000";
    in.message_id = "bounce-1@mx.example.org";
    in.boundary_seed = "0123abcd";
    in.original = "From: sender@example.org\r\nSubject: hello\r\n\r\nsecret body text\r\n";
    DsnRecipient r;
    r.address = "nobody@example.com";
    r.reply = "550 5.1.1 <nobody@example.com>: Recipient address rejected";
    r.remote_mta = "mx1.example.com";
    in.recipients.push_back(r);
    return in;
}

void expect_well_formed(const std::string& m) {
    std::size_t at = 0;
    while (at < m.size()) {
        const std::size_t eol = m.find("\r\n", at);
        ASSERT_NE(eol, std::string::npos) << "the message must end in CRLF";
        EXPECT_LE(eol - at, 998u);
        EXPECT_EQ(m.substr(at, eol - at).find_first_of("\r\n"), std::string::npos) << "bare CR or LF";
        at = eol + 2;
    }
}

TEST(Dsn, ReportFieldsPerRecipient) {
    const std::string m = compose_dsn(sample());
    expect_well_formed(m);
    EXPECT_NE(m.find("Content-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
    EXPECT_NE(m.find("To: <sender@example.org>\r\n"), std::string::npos);
    EXPECT_NE(m.find("Auto-Submitted: auto-replied\r\n"), std::string::npos);
    EXPECT_NE(m.find("Reporting-MTA: dns; mx.example.org\r\n"), std::string::npos);
    EXPECT_NE(m.find("Final-Recipient: rfc822; nobody@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                     "Remote-MTA: dns; mx1.example.com\r\n"
                     "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.com>: Recipient address rejected\r\n"),
              std::string::npos);
    // The original's header section is returned, its body is not.
    EXPECT_NE(m.find("Content-Type: text/rfc822-headers\r\n\r\nFrom: sender@example.org\r\nSubject: hello\r\n"),
              std::string::npos);
    EXPECT_EQ(m.find("secret body text"), std::string::npos);
}

TEST(Dsn, ParsesAsThreeParts) {
    StreamParser p;
    const std::string m = compose_dsn(sample());
    p.feed(m);
    const ParsedMail parsed = p.finish();
    EXPECT_EQ(parsed.subject.value_or(""), "Undelivered Mail Returned to Sender");
    EXPECT_NE(parsed.message.find("nobody@example.com"), std::string::npos);
}

TEST(Dsn, StatusFromReplies) {
    EXPECT_EQ(dsn_status("550 5.1.1 no such user"), "5.1.1");
    EXPECT_EQ(dsn_status("452 4.2.2 mailbox full"), "4.2.2");
    EXPECT_EQ(dsn_status("550 no enhanced code"), "5.0.0");
    EXPECT_EQ(dsn_status("421 try later"), "4.0.0");
    EXPECT_EQ(dsn_status("550 4.1.1 class differs from the reply's"), "5.0.0");
    EXPECT_EQ(dsn_status("550 5.1234.1 too many digits"), "5.0.0");
    EXPECT_EQ(dsn_status(""), "");
}

TEST(Dsn, OwnReasonWithoutReplyAndDelayedAction) {
    DsnInput in = sample();
    in.recipients[0].reply.clear();
    in.recipients[0].remote_mta.clear();
    in.recipients[0].reason = "domain example.com accepts no mail (null MX)";
    in.recipients[0].status = "5.1.10";
    DsnRecipient later;
    later.address = "later@example.net";
    later.failed = false;
    later.reason = "connection timed out";
    in.recipients.push_back(later);
    const std::string m = compose_dsn(in);
    EXPECT_NE(m.find("Status: 5.1.10\r\n"), std::string::npos);
    EXPECT_NE(m.find("Action: delayed\r\nStatus: 4.0.0\r\n"), std::string::npos);
    EXPECT_EQ(m.find("Diagnostic-Code"), std::string::npos);  // no server answered
    EXPECT_NE(m.find("null MX"), std::string::npos);
}

TEST(Dsn, HostileReplyAndOriginalStayInTheirPlace) {
    DsnInput in = sample();
    in.recipients[0].reply = "550 5.1.1 x\r\nContent-Type: text/html\r\n\r\n--=_dsn_0123abcd--\r\n" +
                             std::string(5000, 'y');
    std::string original = "Subject: " + std::string(3000, 'z') + "\nX-Bare: lf only\n\nbody";
    in.original = original;
    const std::string m = compose_dsn(in);
    expect_well_formed(m);
    // The injected field stays inside the Diagnostic-Code line.
    EXPECT_EQ(m.find("\r\nContent-Type: text/html"), std::string::npos);
    EXPECT_NE(m.find("X-Bare: lf only\r\n"), std::string::npos);
}

}  // namespace
}  // namespace ringmail::mime
