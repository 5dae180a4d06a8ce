// tests/proto/server_session_test.cpp — behaviours of proto::ServerSession: RFC 5321
// commands, ESMTP extensions, limits, smuggling defences, handler verdicts. Every input
// goes through drive_all_splits, so each test also proves chunking independence.
#include <algorithm>
#include <type_traits>

#include "proto/sasl.hpp"
#include "session_driver.hpp"

namespace ringmail::test {
namespace {

using proto::Limits;
using proto::Outcome;

const std::string kEhlo = "EHLO c.test\r\n";
const std::string kTxn = "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n";

SessionRun session(std::string_view in, const Limits& l = {}, const Policy& p = {}) {
    return drive_all_splits(in, l, {}, p);
}

// The final reply codes after the greeting and the EHLO reply.
std::vector<int> after_ehlo(const SessionRun& r) {
    auto c = codes(r.out);
    EXPECT_GE(c.size(), 2u);
    EXPECT_EQ(c[0], 220);
    EXPECT_EQ(c[1], 250);
    return {c.begin() + std::min<std::ptrdiff_t>(2, std::ssize(c)), c.end()};
}

bool has_line(const SessionRun& r, std::string_view line) {
    const auto l = lines(r.out);
    return std::find(l.begin(), l.end(), line) != l.end();
}

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

// ---- greeting, EHLO, HELO ----

TEST(ServerSession, GreetsWith220AndHostname) {
    const SessionRun r = session("");
    EXPECT_EQ(r.out, "220 mx.test ESMTP ringmail\r\n");
}

TEST(ServerSession, EhloAdvertisesExtensions) {
    const SessionRun r = session(kEhlo);
    for (std::string_view ext : {"250-PIPELINING", "250-SIZE 10485760", "250-8BITMIME",
                                 "250-ENHANCEDSTATUSCODES", "250-SMTPUTF8", "250-CHUNKING",
                                 "250-AUTH PLAIN LOGIN", "250 HELP"})
        EXPECT_TRUE(has_line(r, ext)) << ext;
    EXPECT_TRUE(has_line(r, "250-mx.test Hello c.test"));
}

TEST(ServerSession, EhloAdvertisesConfiguredSize) {
    Limits l;
    l.max_message_size = 12345;
    EXPECT_TRUE(has_line(session(kEhlo, l), "250-SIZE 12345"));
}

TEST(ServerSession, EhloOmitsAuthWhenNotOffered) {
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN AHUAcA==\r\n", {}, {.auth = false});
    EXPECT_FALSE(has_line(r, "250-AUTH PLAIN LOGIN"));
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{502}));
}

TEST(ServerSession, EhloWithoutDomainIs501) {
    EXPECT_EQ(codes(session("EHLO\r\nEHLO   \r\n").out), (std::vector<int>{220, 501, 501}));
}

TEST(ServerSession, HeloGivesSingle250) {
    const SessionRun r = session("HELO c.test\r\n");
    EXPECT_EQ(lines(r.out), (std::vector<std::string>{"220 mx.test ESMTP ringmail", "250 mx.test"}));
}

TEST(ServerSession, HeloRejectsEsmtpParameters) {
    const SessionRun r = session("HELO c.test\r\nMAIL FROM:<a@example.org> SIZE=10\r\n");
    EXPECT_EQ(codes(r.out).back(), 555);
}

TEST(ServerSession, EhloResetsTransaction) {
    const SessionRun r = session(kEhlo + kTxn + kEhlo + "DATA\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 250, 503}));
}

TEST(ServerSession, CommandsAreCaseInsensitive) {
    const SessionRun r = session("ehlo c.test\r\nmail from:<a@example.org>\r\nrcpt to:<b@example.net>\r\n"
                          "data\r\nhi\r\n.\r\nNoOp\r\nquit\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 250, 250, 221}));
    ASSERT_EQ(r.mails.size(), 1u);
}

TEST(ServerSession, VerbMatchIsExactNotCaseFoldedPunctuation) {
    // 0x1a | 0x20 == ':' — a case fold that is not limited to letters would accept this.
    const SessionRun r = session(kEhlo + "MAIL FROM\x1a<a@example.org>\r\nRCPT TO\x1a<b@example.net>\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{501, 503}));
}

TEST(ServerSession, AcceptsBareLfAsCommandLineEnd) {
    // Postfix accepts LF-terminated commands; only DATA content must use CRLF.
    const SessionRun r = session("EHLO c.test\nNOOP\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250}));
}

// ---- a transaction ----

TEST(ServerSession, DeliversOneMessageWithItsEnvelope) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
                          "RCPT TO:<c@example.net>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 250, 354, 250}));
    ASSERT_EQ(r.mails.size(), 1u);
    const Delivery& m = r.mails[0];
    EXPECT_EQ(m.helo, "c.test");
    EXPECT_EQ(m.sender, "a@example.org");
    EXPECT_EQ(m.recipients, (std::vector<std::string>{"b@example.net", "c@example.net"}));
    EXPECT_EQ(m.body, "Subject: x\r\n\r\nbody\r\n");
    EXPECT_EQ(m.user, "");
    EXPECT_FALSE(m.smtputf8);
}

// Feeds `in` whole, accepting every recipient, up to the end of a message (or of input).
proto::Need feed_to_message(proto::ServerSession& s, std::string_view in) {
    std::size_t off = 0;
    for (int guard = 0; guard < 1000; ++guard) {
        const proto::Step st = s.feed({in.data() + off, in.size() - off}, 0);
        off += st.consumed;
        if (st.need == proto::Need::Recipient) {
            s.resolve({});
            continue;
        }
        if (st.need != proto::Need::Input || off == in.size()) return st.need;
    }
    return proto::Need::Close;
}

// The discard handler's path: the body's buffer comes back, is lent to the next
// transaction and written in place; recipients of an earlier, longer list never leak into
// a later one.
TEST(ServerSession, ADiscardedBodyBufferServesTheNextMessage) {
    proto::ServerSession s(Limits{}, proto::Features{}, "mx.test");
    s.greet(0);
    std::string body;
    while (body.size() < 2000) body += std::string(60, 'x') + "\r\n";
    ASSERT_EQ(feed_to_message(s, kEhlo + "MAIL FROM:<a@example.org>\r\nRCPT TO:<first.long.recipient@example.net>\r\n"
                                 "RCPT TO:<second.long.recipient@example.net>\r\nRCPT TO:<c@example.net>\r\n"
                                 "DATA\r\n" + body + ".\r\n"),
              proto::Need::Message);
    EXPECT_EQ(s.recipients().size(), 3u);
    std::string spare = s.discard_message();
    EXPECT_TRUE(spare.empty());
    EXPECT_GE(spare.capacity(), body.size());
    EXPECT_FALSE(s.has_body_buffer());
    s.resolve({});
    const char* where = spare.data();
    s.lend_body_buffer(std::move(spare));
    EXPECT_TRUE(s.has_body_buffer());
    ASSERT_EQ(feed_to_message(s, "MAIL FROM:<z@example.org>\r\nRCPT TO:<second.long.recipient@example.net>\r\n"
                                 "DATA\r\nsecond\r\n.\r\n"),
              proto::Need::Message);
    EXPECT_EQ(s.body_so_far().data(), where);  // written into the lent buffer
    const proto::Envelope e = s.take_message();
    EXPECT_EQ(e.sender, "z@example.org");
    EXPECT_EQ(e.recipients, (std::vector<std::string>{"second.long.recipient@example.net"}));
    EXPECT_EQ(e.body, "second\r\n");
    s.resolve({});
    EXPECT_TRUE(s.recipients().empty());
}

// The discard handler's sessions keep no body: the message is checked and counted as
// ever (a bad one gets its error), and nothing of it is held.
TEST(ServerSession, ASessionThatKeepsNoBodiesCountsThem) {
    proto::ServerSession s(Limits{}, proto::Features{}, "mx.test");
    s.keep_bodies(false);
    s.greet(0);
    ASSERT_EQ(feed_to_message(s, kEhlo + "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
                                 "DATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\n"),
              proto::Need::Message);
    EXPECT_EQ(s.message_size(), std::string("Subject: x\r\n\r\n.dot\r\n").size());
    EXPECT_TRUE(s.body_so_far().empty());
    EXPECT_FALSE(s.has_body_buffer());
    (void)s.discard_message();
    s.resolve({});
    s.output().clear();
    // A bare LF is still refused at the end of the data.
    EXPECT_EQ(feed_to_message(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\ny\r\n.\r\n"),
              proto::Need::Input);
    EXPECT_NE(s.output().find("\r\n550 5.6.0 "), std::string::npos) << s.output();
    EXPECT_TRUE(s.body_so_far().empty());
}

TEST(ServerSession, AcceptsNullSender) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 250}));
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].sender, "");
}

TEST(ServerSession, RejectsNullRecipient) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<>\r\nRCPT TO:<>\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 501}));
}

TEST(ServerSession, AcceptsPostmasterWithoutDomain) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250}));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"rcpt:Postmaster"}));
}

TEST(ServerSession, RejectsPathWithoutAngleBrackets) {
    const SessionRun r = session(kEhlo + "MAIL FROM:a@example.org\r\nMAIL FROM:<a@example.org\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{501, 501}));
}

TEST(ServerSession, DropsSourceRoute) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<@relay.test:a@example.org>\r\n"
                          "RCPT TO:<@x.test,@y.test:b@example.net>\r\nDATA\r\n.\r\n");
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].sender, "a@example.org");
    EXPECT_EQ(r.mails[0].recipients, (std::vector<std::string>{"b@example.net"}));
}

TEST(ServerSession, RsetClearsTransaction) {
    const SessionRun r = session(kEhlo + kTxn + "RSET\r\nDATA\r\nMAIL FROM:<z@example.org>\r\n"
                          "RCPT TO:<y@example.net>\r\nDATA\r\n.\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 250, 503, 250, 250, 354, 250}));
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].sender, "z@example.org");
    EXPECT_EQ(r.mails[0].recipients, (std::vector<std::string>{"y@example.net"}));
}

TEST(ServerSession, NoopAnswers250WithOrWithoutArgument) {
    EXPECT_EQ(codes(session("NOOP\r\nNOOP hello\r\n").out), (std::vector<int>{220, 250, 250}));
}

TEST(ServerSession, QuitAnswers221AndStopsReading) {
    Driver d;
    EXPECT_FALSE(d.feed("QUIT\r\nNOOP\r\n"));
    EXPECT_EQ(lines(d.run().out).back(), "221 2.0.0 Bye");
    EXPECT_TRUE(d.run().closed);
    EXPECT_EQ(d.pending(), "NOOP\r\n");  // never read as a command
    EXPECT_EQ(codes(d.run().out), (std::vector<int>{220, 221}));
}

TEST(ServerSession, VrfyAnswers252) {
    const SessionRun r = session("VRFY bob\r\n");
    EXPECT_EQ(lines(r.out).back(),
              "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

TEST(ServerSession, HelpAnswers214) {
    const auto c = codes(session("HELP\r\nHELP MAIL\r\n").out);
    EXPECT_EQ(c, (std::vector<int>{220, 214, 214}));
}

TEST(ServerSession, UnknownCommandIs500) {
    const SessionRun r = session("FOO\r\n\r\nMAILFROM:<a@b>\r\n");
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 500, 500, 500}));
    EXPECT_TRUE(has_line(r, "500 5.5.2 Command unrecognized"));
}

TEST(ServerSession, NulInCommandIs500) {
    const SessionRun r = session(std::string("NOOP\0x\r\n", 8));
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 500}));
}

TEST(ServerSession, KnownButUnofferedCommandIs502) {
    EXPECT_EQ(codes(session("EXPN x\r\nTURN\r\nSTARTTLS\r\n").out),
              (std::vector<int>{220, 502, 502, 502}));
}

// ---- sequence errors (RFC 5321 4.1.4) ----

TEST(ServerSession, MailBeforeHeloIs503) {
    EXPECT_EQ(codes(session("MAIL FROM:<a@example.org>\r\n").out), (std::vector<int>{220, 503}));
}

TEST(ServerSession, RcptBeforeMailIs503) {
    EXPECT_EQ(after_ehlo(session(kEhlo + "RCPT TO:<b@example.net>\r\n")), (std::vector<int>{503}));
}

TEST(ServerSession, DataBeforeMailIs503) {
    EXPECT_EQ(after_ehlo(session(kEhlo + "DATA\r\n")), (std::vector<int>{503}));
}

TEST(ServerSession, DataWithoutAcceptedRecipientIs554) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<a@example.org>\r\nDATA\r\nx\r\n", {}, rule_policy());
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 554, 500}));  // "x" is a command then
    EXPECT_TRUE(r.mails.empty());
}

TEST(ServerSession, NestedMailIs503) {
    EXPECT_EQ(after_ehlo(session(kEhlo + kTxn + "MAIL FROM:<c@example.org>\r\n")),
              (std::vector<int>{250, 250, 503}));
}

TEST(ServerSession, DataWithArgumentIs501) {
    EXPECT_EQ(after_ehlo(session(kEhlo + kTxn + "DATA now\r\n")), (std::vector<int>{250, 250, 501}));
}

// ---- PIPELINING (RFC 2920) ----

TEST(ServerSession, PipelinedTransactionsGiveIdenticalOutputAtEverySplit) {
    std::string in = kEhlo;
    for (int i = 0; i < 4; ++i) {
        in += "MAIL FROM:<s" + std::to_string(i) + "@example.org>\r\n";
        in += "RCPT TO:<r" + std::to_string(i) + "@example.net>\r\n";
        in += "RCPT TO:<reject@example.net>\r\nDATA\r\n";
        in += "Subject: " + std::to_string(i) + "\r\n\r\n..dot\r\n.\r\n";
        if (i == 1) in += "RSET\r\nNOOP\r\n";
    }
    in += "QUIT\r\n";
    ASSERT_LE(in.size(), kTwoWayMax);  // so drive_all_splits tries every cut
    const SessionRun r = session(in, {}, rule_policy());
    EXPECT_EQ(r.mails.size(), 4u);
    for (std::size_t i = 0; i < r.mails.size(); ++i) {
        EXPECT_EQ(r.mails[i].recipients, (std::vector<std::string>{"r" + std::to_string(i) + "@example.net"}));
        EXPECT_EQ(r.mails[i].body, "Subject: " + std::to_string(i) + "\r\n\r\n.dot\r\n");
    }
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(codes(r.out).back(), 221);
}

TEST(ServerSession, PipelinedBodyAfterFailedDataIsReadAsCommands) {
    // RFC 2920 3.1: a client must not send the body before 354; if DATA fails, what
    // follows is commands, answered one by one.
    const SessionRun r = session(kEhlo + "MAIL FROM:<a@example.org>\r\nDATA\r\nNOOP\r\n.\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 554, 250, 500}));
}

// ---- SIZE (RFC 1870) ----

TEST(ServerSession, DeclaredSizeOverLimitIs552) {
    Limits l;
    l.max_message_size = 100;
    const SessionRun r = session(kEhlo + "MAIL FROM:<a@example.org> SIZE=101\r\nMAIL FROM:<a@example.org> SIZE=100\r\n", l);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{552, 250}));
    EXPECT_TRUE(has_line(r, "552 5.3.4 Message size exceeds fixed maximum message size"));
}

TEST(ServerSession, SizeParameterSyntaxIs501) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<a@example.org> SIZE=x\r\nMAIL FROM:<a@example.org> SIZE\r\n"
                          "MAIL FROM:<a@example.org> SIZE=99999999999999999999999\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{501, 501, 501}));
}

TEST(ServerSession, SizeEnforcedDuringDataAndNotDelivered) {
    Limits l;
    l.max_message_size = 100;
    const std::string body = repeat('a', 60) + "\r\n" + repeat('b', 60) + "\r\n";
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n" + body + ".\r\nNOOP\r\n", l);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 552, 250}));
    EXPECT_TRUE(has_line(r, "552 5.3.4 Message too big for system"));
    EXPECT_TRUE(r.mails.empty());
}

TEST(ServerSession, MessageOfExactlyMaxSizeIsAccepted) {
    Limits l;
    l.max_message_size = 64;
    const std::string body = repeat('a', 62) + "\r\n";
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n" + body + ".\r\n", l);
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].body, body);
}

TEST(ServerSession, SizeEnforcedDuringBdat) {
    Limits l;
    l.max_message_size = 10;
    const SessionRun r = session(kEhlo + kTxn + "BDAT 6\r\n12345\nBDAT 6 LAST\r\n67890\n", l);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 550, 503}));
    const SessionRun r2 = session(kEhlo + kTxn + "BDAT 6\r\n1234\r\nBDAT 6 LAST\r\n6789\r\n", l);
    EXPECT_EQ(after_ehlo(r2), (std::vector<int>{250, 250, 250, 552}));
    EXPECT_TRUE(r2.mails.empty());
}

// ---- 8BITMIME, SMTPUTF8 (RFC 6152, 6531) ----

TEST(ServerSession, Accepts8BitMimeAndSmtpUtf8Parameters) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<a@example.org> BODY=8BITMIME SMTPUTF8\r\n"
                          "RCPT TO:<b@example.net>\r\nDATA\r\n\xc3\xa9\r\n.\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 250}));
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_TRUE(r.mails[0].smtputf8);
    EXPECT_EQ(r.mails[0].body, "\xc3\xa9\r\n");
}

TEST(ServerSession, Accepts7BitBodyParameter) {
    EXPECT_EQ(after_ehlo(session(kEhlo + "MAIL FROM:<a@example.org> BODY=7BIT\r\n")), (std::vector<int>{250}));
}

TEST(ServerSession, UnknownBodyValueIs555) {
    EXPECT_EQ(after_ehlo(session(kEhlo + "MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n"
                                 "MAIL FROM:<a@example.org> FOO=BAR\r\n")),
              (std::vector<int>{555, 555}));
}

TEST(ServerSession, NonAsciiAddressWithoutSmtpUtf8Is553) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<j\xc3\xb6rg@example.org>\r\n" + kTxn +
                          "RCPT TO:<z\xc3\xbc@example.net>\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{553, 250, 250, 553}));
    EXPECT_TRUE(has_line(r, "553 5.6.7 Non-ASCII address needs SMTPUTF8"));
}

TEST(ServerSession, NonAsciiAddressWithSmtpUtf8IsAccepted) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8\r\n"
                          "RCPT TO:<z\xc3\xbc@b\xc3\xbc.example>\r\nDATA\r\n.\r\n");
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].sender, "j\xc3\xb6rg@example.org");
    EXPECT_EQ(r.mails[0].recipients, (std::vector<std::string>{"z\xc3\xbc@b\xc3\xbc.example"}));
}

// ---- CHUNKING (RFC 3030) ----

TEST(ServerSession, BdatChunksAreJoinedVerbatim) {
    const SessionRun r = session(kEhlo + kTxn + "BDAT 5\r\n..a\r\nBDAT 6 LAST\r\n.\r\nb\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 250, 250}));
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].body, "..a\r\n.\r\nb\r\n");  // no dot-unstuffing, no end marker
}

TEST(ServerSession, BdatZeroLastEndsMessage) {
    const SessionRun r = session(kEhlo + kTxn + "BDAT 4\r\nab\r\nBDAT 0 LAST\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 250, 250}));
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].body, "ab\r\n");
}

TEST(ServerSession, BdatLastIsCaseInsensitive) {
    const SessionRun r = session(kEhlo + kTxn + "bdat 4 last\r\nab\r\n");
    ASSERT_EQ(r.mails.size(), 1u);
}

TEST(ServerSession, BdatWithoutTransactionStillConsumesItsBytes) {
    // The 14 chunk octets look like a command; they must be swallowed, not run.
    const SessionRun r = session(kEhlo + "BDAT 14\r\nRSET\r\nQUIT\r\n\r\nNOOP\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{503, 250}));
    EXPECT_FALSE(r.closed);
    EXPECT_TRUE(r.mails.empty());
}

TEST(ServerSession, BdatZeroLastWithoutTransactionIs503) {
    EXPECT_EQ(after_ehlo(session(kEhlo + "BDAT 0 LAST\r\n")), (std::vector<int>{503}));
}

TEST(ServerSession, BdatWithoutAcceptedRecipientConsumesAndFails) {
    const SessionRun r = session(kEhlo + "MAIL FROM:<a@example.org>\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 503, 250}));
    EXPECT_TRUE(r.mails.empty());
}

TEST(ServerSession, BdatBadSizeIs501) {
    EXPECT_EQ(after_ehlo(session(kEhlo + kTxn + "BDAT\r\nBDAT -1\r\nBDAT 1 FIRST\r\nBDAT 99999999999999999999999\r\n")),
              (std::vector<int>{250, 250, 501, 501, 501, 501}));
}

TEST(ServerSession, DataAfterBdatIs503) {
    const SessionRun r = session(kEhlo + kTxn + "BDAT 3\r\nab\nDATA\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 550, 503}));
    const SessionRun r2 = session(kEhlo + kTxn + "BDAT 4\r\nab\r\nDATA\r\nBDAT 0 LAST\r\n");
    EXPECT_EQ(after_ehlo(r2), (std::vector<int>{250, 250, 250, 503, 250}));
    EXPECT_EQ(r2.mails.size(), 1u);
}

TEST(ServerSession, BdatRejectsBareLineEndings) {
    const SessionRun r = session(kEhlo + kTxn + "BDAT 5 LAST\r\na\rb\r\n" + kTxn + "BDAT 2 LAST\r\na\r");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 550, 250, 250, 550}));
    EXPECT_TRUE(r.mails.empty());
}

TEST(ServerSession, BdatCrLfSplitAcrossChunksIsFine) {
    const SessionRun r = session(kEhlo + kTxn + "BDAT 2\r\na\rBDAT 1 LAST\r\n\n");
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].body, "a\r\n");
}

// ---- AUTH (RFC 4954) ----

const Policy kAuthPolicy = rule_policy();

TEST(ServerSession, AuthPlainWithInitialResponse) {
    // "\0u\0p"
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN AHUAcA==\r\n" + kTxn + "DATA\r\n.\r\n", {}, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{235, 250, 250, 354, 250}));
    EXPECT_EQ(r.asked.front(), "auth:u:p");
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].user, "u");
}

TEST(ServerSession, AuthPlainWithoutInitialResponse) {
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN\r\nYQB1AHA=\r\n", {}, {}, kAuthPolicy);  // "a\0u\0p"
    EXPECT_TRUE(has_line(r, "334 "));
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{334, 235}));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"auth:u:p"}));
}

TEST(ServerSession, AuthPlainCancelledWithStar) {
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN\r\n*\r\nNOOP\r\n", {}, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{334, 501, 250}));
    EXPECT_TRUE(r.asked.empty());
}

TEST(ServerSession, AuthLoginWithoutInitialResponse) {
    const SessionRun r = drive_all_splits(kEhlo + "AUTH LOGIN\r\ndQ==\r\ncA==\r\n", {}, {}, kAuthPolicy);
    EXPECT_TRUE(has_line(r, "334 VXNlcm5hbWU6"));
    EXPECT_TRUE(has_line(r, "334 UGFzc3dvcmQ6"));
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{334, 334, 235}));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"auth:u:p"}));
}

TEST(ServerSession, AuthLoginWithInitialResponse) {
    const SessionRun r = drive_all_splits(kEhlo + "AUTH LOGIN dQ==\r\ncA==\r\n", {}, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{334, 235}));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"auth:u:p"}));
}

TEST(ServerSession, AuthLoginCancelledAtPassword) {
    const SessionRun r = drive_all_splits(kEhlo + "AUTH LOGIN\r\ndQ==\r\n*\r\n", {}, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{334, 334, 501}));
    EXPECT_TRUE(r.asked.empty());
}

// A password "p\0x" (cA B4) or a user "u\0" (dQA=) must not reach the handler: crypt(3)
// would read "p" and let the login through with anything after the NUL.
TEST(ServerSession, AuthLoginRefusesNulInCredentials) {
    const SessionRun r =
        drive_all_splits(kEhlo + "AUTH LOGIN\r\ndQ==\r\ncAB4\r\nAUTH LOGIN dQA=\r\nAUTH LOGIN dQ==\r\ncA==\r\n", {}, {},
                         kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{334, 334, 501, 501, 334, 235}));
    EXPECT_TRUE(has_line(r, "501 5.5.2 NUL not allowed in user name or password"));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"auth:u:p"}));
}

// Password guessing: three failures end the session, and an accepted message between
// them forgives other errors but not these.
TEST(ServerSession, FailedLoginsCloseTheSessionAndAreNotForgiven) {
    const std::string fail = "AUTH PLAIN AHUAd3Jvbmc=\r\n";  // "\0u\0wrong"
    const std::string mail = "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n";
    const SessionRun r = drive_all_splits(kEhlo + fail + fail + mail + fail + "NOOP\r\n", {}, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{535, 535, 250, 250, 354, 250, 535, 421}));
    EXPECT_TRUE(has_line(r, "421 4.7.0 Too many failed authentication attempts, closing connection"));
}

TEST(ServerSession, AuthRejectedGives535AndAllowsRetry) {
    // "\0u\0wrong", then "\0u\0p"
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN AHUAd3Jvbmc=\r\nAUTH PLAIN AHUAcA==\r\n", {}, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{535, 235}));
}

TEST(ServerSession, AuthTempFailGives454WithText) {
    Policy p;
    p.auth = [](std::string_view, std::string_view) { return Answer{Outcome::TempFail, "try later"}; };
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN AHUAcA==\r\n", {}, {}, p);
    EXPECT_TRUE(has_line(r, "454 4.7.0 try later"));
}

TEST(ServerSession, AuthBadBase64Is501) {
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN A\r\nAUTH PLAIN ====\r\nAUTH PLAIN dQ==\r\n", {}, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{501, 501, 501}));  // the last has no NULs
    EXPECT_TRUE(r.asked.empty());
}

TEST(ServerSession, AuthTwiceIs503) {
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN AHUAcA==\r\nAUTH LOGIN\r\n", {}, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{235, 503}));
}

TEST(ServerSession, AuthDuringTransactionIs503) {
    const SessionRun r = drive_all_splits(kEhlo + kTxn + "AUTH PLAIN AHUAcA==\r\n", {}, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 503}));
}

TEST(ServerSession, AuthUnknownMechanismIs504) {
    EXPECT_EQ(after_ehlo(session(kEhlo + "AUTH CRAM-MD5\r\n")), (std::vector<int>{504}));
}

TEST(ServerSession, AuthResponseMayBeLongerThanCommandLine) {
    // RFC 4954 4: the 512-octet command limit does not apply to SASL responses.
    const std::string pass(900, 'p');
    const std::string resp = proto::sasl_base64_encode(std::string("\0u\0", 3) + pass);
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN\r\n" + resp + "\r\n", {}, {}, kAuthPolicy, 0);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{334, 235}));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"auth:u:" + pass}));
}

TEST(ServerSession, OverlongAuthResponseIs500_5_5_6AndEndsExchange) {
    Limits l;
    l.max_auth_line = 100;
    const SessionRun r = drive_all_splits(kEhlo + "AUTH PLAIN\r\n" + repeat('A', 200) + "\r\nNOOP\r\n", l, {}, kAuthPolicy);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{334, 500, 250}));
    EXPECT_TRUE(has_line(r, "500 5.5.6 Authentication exchange line is too long"));
    EXPECT_TRUE(r.asked.empty());
}

// ---- line limits (RFC 5321 4.5.3.1) ----

TEST(ServerSession, CommandLineOf512OctetsIsAccepted) {
    const std::string line = "NOOP " + repeat('x', 512 - 7) + "\r\n";
    ASSERT_EQ(line.size(), 512u);
    EXPECT_EQ(codes(session(line).out), (std::vector<int>{220, 250}));
}

TEST(ServerSession, CommandLineOver512OctetsIs500) {
    const std::string line = "NOOP " + repeat('x', 513 - 7) + "\r\n";
    const SessionRun r = session(line + "NOOP\r\n");
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 500, 250}));
    EXPECT_TRUE(has_line(r, "500 5.5.2 Line too long"));
}

TEST(ServerSession, HugeCommandLineIsAnsweredOnceAndBounded) {
    // A line far longer than any buffer: one 500, and the caller never holds more
    // than one command line of it (drive_all_splits checks max_pending).
    const SessionRun r = session("MAIL FROM:<" + repeat('a', 20000) + "@x>\r\nNOOP\r\n");
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 500, 250}));
}

TEST(ServerSession, TextLineOf1000OctetsIsAccepted) {
    const std::string body = repeat('t', 998) + "\r\n";
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n" + body + ".\r\n");
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].body, body);
}

TEST(ServerSession, TextLineOver1000OctetsIs500AndNotDelivered) {
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n" + repeat('t', 999) + "\r\nok\r\n.\r\nNOOP\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 500, 250}));
    EXPECT_TRUE(has_line(r, "500 5.5.6 Message line too long"));
    EXPECT_TRUE(r.mails.empty());
}

TEST(ServerSession, DotStuffedLineCountsItsDot) {
    // 1000 octets on the wire including the stuffing dot: allowed.
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n." + repeat('.', 997) + "\r\n.\r\n");
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].body, repeat('.', 997) + "\r\n");
}

// ---- recipient and error limits ----

TEST(ServerSession, RecipientLimitIs452) {
    Limits l;
    l.max_recipients = 3;
    std::string in = kEhlo + "MAIL FROM:<a@example.org>\r\n";
    for (int i = 0; i < 5; ++i) in += "RCPT TO:<r" + std::to_string(i) + "@example.net>\r\n";
    const SessionRun r = session(in + "DATA\r\n.\r\n", l);
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 250, 250, 452, 452, 354, 250}));
    EXPECT_TRUE(has_line(r, "452 4.5.3 Too many recipients"));
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].recipients.size(), 3u);
}

// 1,001 recipients pipelined used to end in 421: every 452 past the limit counted as an
// error. Up to the overshoot limit they do not; past it they do.
TEST(ServerSession, RecipientOvershootIsNotAnError) {
    Limits l;
    l.max_recipients = 3;
    l.max_errors = 5;
    std::string in = kEhlo + "MAIL FROM:<a@example.org>\r\n";
    for (int i = 0; i < 33; ++i) in += "RCPT TO:<r" + std::to_string(i) + "@example.net>\r\n";
    const SessionRun r = session(in + "DATA\r\n.\r\n", l);
    std::vector<int> want{250, 250, 250, 250};  // MAIL and three RCPTs
    want.insert(want.end(), 30, 452);
    want.insert(want.end(), {354, 250});
    EXPECT_EQ(after_ehlo(r), want);
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].recipients.size(), 3u);
}

TEST(ServerSession, RecipientOvershootPastItsLimitCountsAsErrors) {
    Limits l;
    l.max_recipients = 3;
    l.max_errors = 5;
    l.max_recipient_overshoot = 10;
    std::string in = kEhlo + "MAIL FROM:<a@example.org>\r\n";
    for (int i = 0; i < 40; ++i) in += "RCPT TO:<r" + std::to_string(i) + "@example.net>\r\n";
    const SessionRun r = session(in, l);
    // 3 accepted, 10 free 452s, then 5 counted 452s, the fifth of which closes with 421.
    std::vector<int> want{250, 250, 250, 250};
    want.insert(want.end(), 15, 452);
    want.push_back(421);
    EXPECT_EQ(after_ehlo(r), want);
}

TEST(ServerSession, DefaultRecipientLimitIsAtLeast100) {
    std::string in = kEhlo + "MAIL FROM:<a@example.org>\r\n";
    for (int i = 0; i < 100; ++i) in += "RCPT TO:<r" + std::to_string(i) + "@example.net>\r\n";
    const SessionRun r = drive(Pieces{in});
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1 + 9 + 1 + 100);
    EXPECT_EQ(codes(r.out).back(), 250);
}

TEST(ServerSession, ErrorLimitCloses421) {
    Limits l;
    l.max_errors = 5;
    const SessionRun r = session("A\r\nB\r\nNOOP\r\nC\r\nD\r\nE\r\nF\r\nG\r\n", l);
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 500, 500, 250, 500, 500, 500, 421}));
    EXPECT_TRUE(has_line(r, "421 4.7.0 Too many errors, closing connection"));
    EXPECT_TRUE(r.closed);
}

TEST(ServerSession, ErrorLimitStopsReading) {
    Limits l;
    l.max_errors = 1;
    Driver d(l);
    EXPECT_FALSE(d.feed("X\r\nNOOP\r\n"));
    EXPECT_EQ(d.pending(), "NOOP\r\n");
}

TEST(ServerSession, AcceptedMessageForgivesEarlierErrors) {
    // As Postfix: a long pipelined session with a bad recipient per mail is not cut off.
    Limits l;
    l.max_errors = 3;
    std::string in = kEhlo;
    for (int i = 0; i < 5; ++i)
        in += "MAIL FROM:<a@example.org>\r\nRCPT TO:<reject@x.test>\r\nRCPT TO:<reject@x.test>\r\n"
              "RCPT TO:<b@x.test>\r\nDATA\r\n.\r\n";
    const SessionRun r = session(in, l, rule_policy());
    EXPECT_EQ(r.mails.size(), 5u);
    EXPECT_FALSE(r.closed);
}

TEST(ServerSession, RejectedMessagesDoNotForgiveErrors) {
    Limits l;
    l.max_errors = 3;
    const std::string txn = "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x.test>\r\nDATA\r\nX-Test: reject\r\n.\r\n";
    const SessionRun r = session(kEhlo + txn + txn + txn + txn, l, rule_policy());
    EXPECT_EQ(r.mails.size(), 3u);
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(codes(r.out).back(), 421);
}

TEST(ServerSession, JunkCommandsPastLimitCountAsErrors) {
    Limits l;
    l.max_junk_commands = 4;
    l.max_errors = 2;
    const SessionRun r = session("NOOP\r\nRSET\r\nVRFY x\r\nHELP\r\nHELO a\r\nEHLO a\r\nNOOP\r\n", l);
    // Commands 5 and 6 are junk past the limit: two errors, then 421; NOOP 7 is never read.
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 250, 250, 252, 214, 250, 250, 421}));
    EXPECT_TRUE(r.closed);
}

TEST(ServerSession, DefaultJunkLimitAllowsHundredNoops) {
    std::string in;
    for (int i = 0; i < 100; ++i) in += "NOOP\r\n";
    const SessionRun r = drive(Pieces{in});
    EXPECT_FALSE(r.closed);
    std::string more = in;
    for (int i = 0; i < 20; ++i) more += "NOOP\r\n";
    EXPECT_TRUE(drive(Pieces{more}).closed);  // bounded: it does end
}

TEST(ServerSession, HttpRequestClosesConnection) {
    for (std::string_view req : {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "POST /x HTTP/1.0\r\n",
                                 "CONNECT mx.test:25 HTTP/1.1\r\n"}) {
        const SessionRun r = session(req);
        EXPECT_EQ(codes(r.out), (std::vector<int>{220, 221})) << req;
        EXPECT_TRUE(r.closed);
    }
}

// ---- idle timeouts (RFC 5321 4.5.3.2) ----

TEST(ServerSession, IdleTimeoutCloses421) {
    Limits l;
    l.command_timeout_ms = 1000;
    Driver d(l);
    d.feed(kEhlo, 100);
    EXPECT_FALSE(d.expire(1099));
    EXPECT_TRUE(d.expire(1100));
    EXPECT_EQ(lines(d.run().out).back(), "421 4.4.2 Timeout, closing connection");
    EXPECT_TRUE(d.run().closed);
}

TEST(ServerSession, InputRestartsIdleTimer) {
    Limits l;
    l.command_timeout_ms = 1000;
    Driver d(l);
    d.feed("NOOP\r\n", 900);
    EXPECT_FALSE(d.expire(1800));
    d.feed("NO", 1800);  // even half a command is activity
    EXPECT_FALSE(d.expire(2700));
    EXPECT_TRUE(d.expire(2800));
}

TEST(ServerSession, DataPhaseUsesDataTimeout) {
    Limits l;
    l.command_timeout_ms = 1000;
    l.data_timeout_ms = 5000;
    Driver d(l);
    d.feed(kEhlo + kTxn + "DATA\r\npartial", 0);
    EXPECT_FALSE(d.expire(4999));
    EXPECT_TRUE(d.expire(5000));
}

TEST(ServerSession, ClockGoingBackwardsDoesNotExpire) {
    Limits l;
    l.command_timeout_ms = 1000;
    Driver d(l);
    d.feed("NOOP\r\n", 5000);
    EXPECT_FALSE(d.expire(4000));
}

// ---- DATA: end of data, line endings, dot-stuffing (RFC 5321 4.1.4, 4.5.2) ----

TEST(ServerSession, EmptyMessageIsDelivered) {
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n.\r\n");
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].body, "");
}

TEST(ServerSession, EndOfDataOnlyAtCrLfDotCrLf) {
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\na.\r\n .\r\n.x\r\n.\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 250}));
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].body, "a.\r\n .\r\nx\r\n");
}

TEST(ServerSession, DotUnstuffing) {
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n..\r\n...x\r\n.y.\r\n\r\n.\r\n");
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].body, ".\r\n..x\r\ny.\r\n\r\n");
}

TEST(ServerSession, RejectsBareLfInData) {
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\nline one\nline two\r\n.\r\nNOOP\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 550, 250}));
    EXPECT_TRUE(has_line(r, "550 5.6.0 Bare CR or LF in message data is not allowed"));
    EXPECT_TRUE(r.mails.empty());
}

TEST(ServerSession, RejectsBareCrInData) {
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\nline one\rline two\r\n.\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 550}));
    EXPECT_TRUE(r.mails.empty());
}

TEST(ServerSession, RejectsCrCrLfInData) {
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\nx\r\r\n.\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 550}));
}

class Smuggling : public ::testing::TestWithParam<std::string> {};

// Each variant of a fake end of data, followed by a smuggled transaction and the real end.
TEST_P(Smuggling, FakeEndOfDataDoesNotEndMessage) {
    const std::string in = kEhlo + kTxn + "DATA\r\nSubject: a\r\n\r\nx" + GetParam() +
                           "MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\n"
                           "DATA\r\nsmuggled\r\n.\r\nNOOP\r\n";
    const SessionRun r = session(in);
    // One reply for the whole message (550: it held a bare CR or LF), then NOOP.
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 550, 250}));
    EXPECT_TRUE(r.mails.empty());
    EXPECT_EQ(r.asked, (std::vector<std::string>{"rcpt:b@example.net"}));  // victim never asked
}

INSTANTIATE_TEST_SUITE_P(ServerSession, Smuggling,
                         ::testing::Values("\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r",
                                           "\r.\r\n", "\r\n.\r\r\n", "\n.\n\r\n", "\r\n\n.\r\n"),
                         [](const auto& info) { return "Variant" + std::to_string(info.index); });

TEST(ServerSession, BareLfAfterDotLineStartDoesNotEnd) {
    // "\r\n.\n" then a real CRLF: the line ".\n" is not an end marker.
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\nx\r\n.\nQUIT\r\n.\r\n");
    EXPECT_EQ(after_ehlo(r), (std::vector<int>{250, 250, 354, 550}));
    EXPECT_FALSE(r.closed);
}

// ---- handler verdicts ----

TEST(ServerSession, MessageTempFailGives451WithHandlerText) {
    Policy p;
    p.mail = [](const proto::Envelope&) { return Answer{Outcome::TempFail, "Disk full"}; };
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n.\r\n", {}, p);
    EXPECT_EQ(lines(r.out).back(), "451 4.3.0 Disk full");
}

TEST(ServerSession, MessageRejectGives550WithHandlerText) {
    Policy p;
    p.mail = [](const proto::Envelope&) { return Answer{Outcome::Reject, "No spam"}; };
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n.\r\n", {}, p);
    EXPECT_EQ(lines(r.out).back(), "550 5.7.1 No spam");
}

TEST(ServerSession, MessageVerdictDefaultTexts) {
    Policy p;
    p.mail = [](const proto::Envelope& e) {
        return Answer{e.body == "t\r\n" ? Outcome::TempFail : Outcome::Reject, ""};
    };
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\nt\r\n.\r\n" + kTxn + "DATA\r\nr\r\n.\r\n", {}, p);
    EXPECT_TRUE(has_line(r, "451 4.3.0 Message temporarily deferred"));
    EXPECT_TRUE(has_line(r, "550 5.7.1 Message rejected"));
}

TEST(ServerSession, HandlerTextCannotInjectReplyLines) {
    Policy p;
    p.mail = [](const proto::Envelope&) { return Answer{Outcome::Reject, "bad\r\n250 2.0.0 OK\n\x01"}; };
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n.\r\n", {}, p);
    EXPECT_EQ(lines(r.out).back(), "550 5.7.1 bad  250 2.0.0 OK  ");
    EXPECT_EQ(codes(r.out).back(), 550);
}

TEST(ServerSession, RecipientVerdictsWithText) {
    Policy p;
    p.rcpt = [](std::string_view a) {
        if (a.starts_with("t")) return Answer{Outcome::TempFail, "Greylisted"};
        if (a.starts_with("r")) return Answer{Outcome::Reject, "No such user\r\nhere"};
        return Answer{Outcome::Accept, "Recipient ok"};
    };
    const SessionRun r = session(kEhlo + "MAIL FROM:<a@example.org>\r\nRCPT TO:<t@x.test>\r\n"
                          "RCPT TO:<r@x.test>\r\nRCPT TO:<ok@x.test>\r\nDATA\r\n.\r\n", {}, p);
    EXPECT_TRUE(has_line(r, "450 4.2.0 Greylisted"));
    EXPECT_TRUE(has_line(r, "550 5.1.1 No such user  here"));
    EXPECT_TRUE(has_line(r, "250 2.1.5 Recipient ok"));
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].recipients, (std::vector<std::string>{"ok@x.test"}));
}

TEST(ServerSession, LongHandlerTextKeepsReplyLineUnder512) {
    Policy p;
    p.mail = [](const proto::Envelope&) { return Answer{Outcome::Reject, std::string(5000, 'z')}; };
    const SessionRun r = session(kEhlo + kTxn + "DATA\r\n.\r\n", {}, p);
    EXPECT_LE(lines(r.out).back().size() + 2, 512u);
}

// ---- shutdown and idle state ----

TEST(ServerSession, IdleOnlyBetweenTransactions) {
    Driver d;
    EXPECT_TRUE(d.session().idle());
    d.feed(kEhlo + "MAIL FROM:<a@example.org>\r\n");
    EXPECT_FALSE(d.session().idle());
    d.feed("RSET\r\n");
    EXPECT_TRUE(d.session().idle());
}

TEST(ServerSession, ShutDownAppends421AndCloses) {
    Driver d;
    d.session().shut_down();
    EXPECT_EQ(d.session().output(), "421 4.3.2 Service shutting down, closing connection\r\n");
    EXPECT_EQ(d.session().need(), proto::Need::Close);
}

}  // namespace
}  // namespace ringmail::test

namespace ringmail::proto {
namespace {
// BodyReader points into its session's body: a moved session would leave it dangling.
static_assert(!std::is_move_constructible_v<ServerSession> && !std::is_copy_constructible_v<ServerSession>);
static_assert(!std::is_move_assignable_v<ServerSession> && !std::is_copy_assignable_v<ServerSession>);
}  // namespace
}  // namespace ringmail::proto


namespace ringmail::test {
namespace {

using proto::Limits;

// ---- the server's budget for message bodies (issue 13 item 3) ----

namespace storage {

// Feeds `in` whole and answers a Need::Recipient with accept; returns the new output.
std::string feed(proto::ServerSession& s, std::string_view in) {
    s.output().clear();
    std::size_t off = 0;
    for (int guard = 0; guard < 100 && off < in.size(); ++guard) {
        const proto::Step st = s.feed({in.data() + off, in.size() - off}, 0);
        off += st.consumed;
        if (st.need == proto::Need::Recipient) s.resolve({});
        else if (st.need != proto::Need::Input) break;
    }
    return s.output();
}

}  // namespace storage

TEST(ServerSession, MailIs452_4_3_1WithoutStorageAndIsNoClientError) {
    Limits l;
    l.max_errors = 2;
    proto::ServerSession s(l, {}, "mx.test");
    s.greet(0);
    storage::feed(s, kEhlo);
    s.set_storage_available(0);
    for (int i = 0; i < 3; ++i)  // three refusals, under an error limit of 2: still open
        EXPECT_EQ(storage::feed(s, "MAIL FROM:<a@example.org>\r\n"),
                  "452 4.3.1 Insufficient system storage, try again later\r\n");
    s.set_storage_available(100);
    EXPECT_EQ(storage::feed(s, "MAIL FROM:<a@example.org> SIZE=200\r\n").substr(0, 9), "452 4.3.1");
    EXPECT_EQ(storage::feed(s, "MAIL FROM:<a@example.org> SIZE=50\r\n").substr(0, 3), "250");
    EXPECT_EQ(s.need(), proto::Need::Input);
}

TEST(ServerSession, DroppedBodyIsReadToItsEndAndAnswered452_4_3_1) {
    proto::ServerSession s({}, {}, "mx.test");
    s.greet(0);
    storage::feed(s, kEhlo + kTxn + "DATA\r\n");
    storage::feed(s, "Subject: x\r\n\r\nfirst part\r\n");
    EXPECT_FALSE(s.body_so_far().empty());
    s.drop_body();
    EXPECT_TRUE(s.body_so_far().empty());
    // The rest, including a line that looks like a command, is message data.
    EXPECT_EQ(storage::feed(s, "MAIL FROM:<x@y.z>\r\nsecond part\r\n.\r\n"),
              "452 4.3.1 Insufficient system storage, try again later\r\n");
    EXPECT_EQ(s.need(), proto::Need::Input);
    // The session goes on: a new transaction is accepted.
    EXPECT_EQ(storage::feed(s, kTxn + "DATA\r\nbody\r\n.\r\n").substr(0, 3), "250");
    EXPECT_EQ(s.need(), proto::Need::Message);
}

TEST(ServerSession, DropBodyOutsideDataDoesNothing) {
    proto::ServerSession s({}, {}, "mx.test");
    s.greet(0);
    storage::feed(s, kEhlo + kTxn);
    s.drop_body();
    EXPECT_EQ(storage::feed(s, "DATA\r\nbody\r\n.\r\n").substr(0, 3), "354");
    EXPECT_EQ(s.need(), proto::Need::Message);
}

}  // namespace
}  // namespace ringmail::test
