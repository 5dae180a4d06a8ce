// tests/proto/server_session_tls_test.cpp — STARTTLS (RFC 3207) and the AUTH-needs-TLS
// policy (RFC 4954 6) of proto::ServerSession. Input before the handshake and input after
// it each run under every split; commands pipelined behind STARTTLS must never run
// (CVE-2011-0411).
#include <algorithm>

#include "proto/sasl.hpp"
#include "session_driver.hpp"

namespace ringmail::test {
namespace {

using proto::Features;

constexpr Features kTls{.auth = true, .starttls = true, .auth_requires_tls = false};
constexpr Features kTlsAuthOnly{.auth = true, .starttls = true, .auth_requires_tls = true};

// `pre` up to and after STARTTLS, the handshake (when the session asked for one), then
// `post` inside TLS. Every split of `pre` and of `post` must give the same run.
SessionRun drive_tls(std::string_view pre, std::string_view post, Features f = kTls,
                     const Policy& p = {}) {
    auto run = [&](const Pieces& a, const Pieces& b) {
        Driver d({}, f, p);
        for (auto piece : a) d.feed(piece);
        if (d.in_handshake()) d.handshake();
        for (auto piece : b) d.feed(piece);
        return d.run();
    };
    const SessionRun whole = run(Pieces{pre}, Pieces{post});
    for_each_split(pre, [&](const Pieces& a) { EXPECT_EQ(run(a, Pieces{post}), whole); });
    for_each_split(post, [&](const Pieces& b) { EXPECT_EQ(run(Pieces{pre}, b), whole); });
    return whole;
}

bool has_line(const SessionRun& r, std::string_view line) {
    const auto l = lines(r.out);
    return std::find(l.begin(), l.end(), line) != l.end();
}

std::size_t count_lines(const SessionRun& r, std::string_view line) {
    const auto l = lines(r.out);
    return static_cast<std::size_t>(std::count(l.begin(), l.end(), line));
}

std::string auth_plain(std::string_view user, std::string_view pass) {
    std::string raw;
    raw += '\0';
    raw += user;
    raw += '\0';
    raw += pass;
    return "AUTH PLAIN " + proto::sasl_base64_encode(raw) + "\r\n";
}

const std::string kEhlo = "EHLO c.test\r\n";

TEST(ServerSessionTls, StartTlsAdvertisedOnlyWithCertificate) {
    EXPECT_TRUE(has_line(drive_tls(kEhlo, "", kTls), "250-STARTTLS"));
    const SessionRun r = drive_tls(kEhlo + "STARTTLS\r\n", "", Features{});
    EXPECT_FALSE(has_line(r, "250-STARTTLS"));
    EXPECT_EQ(codes(r.out).back(), 502);
    EXPECT_EQ(r.handshakes, 0u);
}

TEST(ServerSessionTls, StartTlsReplies220AndWaitsForTheHandshake) {
    const SessionRun r = drive_tls(kEhlo + "STARTTLS\r\n", "");
    EXPECT_EQ(lines(r.out).back(), "220 2.0.0 Ready to start TLS");
    EXPECT_EQ(r.handshakes, 1u);
    EXPECT_EQ(r.discarded, 0u);
    EXPECT_FALSE(r.closed);
}

// CVE-2011-0411: "STARTTLS\r\nRSET\r\n" in one segment; RSET must be neither answered in
// plaintext nor executed inside TLS.
TEST(ServerSessionTls, CommandsPipelinedAfterStartTlsAreDiscarded) {
    const std::string injected = "RSET\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<x@example.net>\r\n";
    const SessionRun r = drive_tls(kEhlo + "STARTTLS\r\n" + injected, "");
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 250, 220}));
    EXPECT_EQ(r.discarded, injected.size());
    EXPECT_TRUE(r.asked.empty());
}

TEST(ServerSessionTls, InjectedCommandsDoNotSurviveIntoTls) {
    // The injected MAIL would make the client's own MAIL "nested" if it had run.
    const SessionRun r = drive_tls(kEhlo + "STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n",
                                   kEhlo + "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n");
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 250, 220, 250, 250, 250}));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"rcpt:b@example.net"}));
}

TEST(ServerSessionTls, HandshakeResetsToStateAfterGreeting) {
    // RFC 3207 4.2: EHLO, the transaction and the login are forgotten.
    const SessionRun r = drive_tls(kEhlo + auth_plain("u", "p") + "STARTTLS\r\n",
                                   "MAIL FROM:<a@example.org>\r\n" + kEhlo);
    const auto c = codes(r.out);
    EXPECT_EQ(c, (std::vector<int>{220, 250, 235, 220, 503, 250}));
    // AUTH is offered again (it is hidden once logged in): the login no longer counts.
    EXPECT_EQ(count_lines(r, "250-AUTH PLAIN LOGIN"), 2u);
    EXPECT_EQ(count_lines(r, "220 mx.test ESMTP ringmail"), 1u);  // no second greeting
}

TEST(ServerSessionTls, MailAfterHandshakeHasNoUserFromBefore) {
    std::string post = kEhlo + "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\n";
    const SessionRun r = drive_tls(kEhlo + auth_plain("u", "p") + "STARTTLS\r\n", post);
    ASSERT_EQ(r.mails.size(), 1u);
    EXPECT_EQ(r.mails[0].user, "");
    EXPECT_EQ(r.mails[0].helo, "c.test");
}

TEST(ServerSessionTls, NotAdvertisedAgainAndSecondStartTlsRefused) {
    const SessionRun r = drive_tls(kEhlo + "STARTTLS\r\n", kEhlo + "STARTTLS\r\nNOOP\r\n");
    EXPECT_EQ(count_lines(r, "250-STARTTLS"), 1u);  // before TLS only
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 250, 220, 250, 554, 250}));
    EXPECT_TRUE(has_line(r, "554 5.5.1 TLS already active"));
    EXPECT_EQ(r.handshakes, 1u);
}

TEST(ServerSessionTls, StartTlsTakesNoParameters) {
    const SessionRun r = drive_tls(kEhlo + "STARTTLS now\r\n", "");
    EXPECT_EQ(codes(r.out).back(), 501);
    EXPECT_EQ(r.handshakes, 0u);
}

TEST(ServerSessionTls, StartTlsRefusedInsideATransaction) {
    const SessionRun r = drive_tls(kEhlo + "MAIL FROM:<a@example.org>\r\nSTARTTLS\r\nRSET\r\n", "");
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 250, 250, 503, 250}));
    EXPECT_EQ(r.handshakes, 0u);
}

TEST(ServerSessionTls, AuthHiddenAndRefusedWithoutTlsWhenPolicyNeedsIt) {
    const SessionRun r = drive_tls(kEhlo + auth_plain("u", "p") + "AUTH LOGIN\r\n", "", kTlsAuthOnly);
    EXPECT_FALSE(has_line(r, "250-AUTH PLAIN LOGIN"));
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 250, 538, 538}));
    EXPECT_TRUE(has_line(r, "538 5.7.11 Encryption required for requested authentication mechanism"));
    EXPECT_TRUE(r.asked.empty());  // the password never reached a handler
}

TEST(ServerSessionTls, AuthOfferedAndAcceptedAfterStartTls) {
    const SessionRun r = drive_tls(kEhlo + "STARTTLS\r\n", kEhlo + auth_plain("u", "p"), kTlsAuthOnly);
    EXPECT_EQ(count_lines(r, "250-AUTH PLAIN LOGIN"), 1u);
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 250, 220, 250, 235}));
    EXPECT_EQ(r.asked, (std::vector<std::string>{"auth:u:p"}));
}

TEST(ServerSessionTls, AuthInTheClearWhenPolicyAllowsIt) {
    const SessionRun r = drive_tls(kEhlo + auth_plain("u", "p"), "", kTls);
    EXPECT_EQ(codes(r.out), (std::vector<int>{220, 250, 235}));
}

TEST(ServerSessionTls, ImplicitTlsGreetsAfterHandshakeAndOffersAuth) {
    // On the implicit TLS port the engine calls tls_started() before the greeting.
    proto::ServerSession s({}, kTlsAuthOnly, kHost);
    s.tls_started();
    s.greet(0);
    const std::string in = kEhlo + "STARTTLS\r\n";
    const proto::Step st = s.feed(in, 0);
    EXPECT_EQ(st.consumed, in.size());
    EXPECT_EQ(st.need, proto::Need::Input);
    SessionRun r;
    r.out = s.output();
    EXPECT_EQ(lines(r.out).front(), "220 mx.test ESMTP ringmail");
    EXPECT_TRUE(has_line(r, "250-AUTH PLAIN LOGIN"));
    EXPECT_FALSE(has_line(r, "250-STARTTLS"));
    EXPECT_EQ(codes(r.out).back(), 554);
    EXPECT_TRUE(s.tls_active());
}

TEST(ServerSessionTls, FeedStopsAtStartTlsUntilHandshake) {
    proto::ServerSession s({}, kTls, kHost);
    s.greet(0);
    const std::string in = kEhlo + "STARTTLS\r\nNOOP\r\n";
    const proto::Step st = s.feed(in, 0);
    EXPECT_EQ(st.need, proto::Need::StartTls);
    EXPECT_EQ(st.consumed, in.size() - 6);  // NOOP left for the engine to drop
    // Still waiting: more input is not read as commands.
    const proto::Step again = s.feed("NOOP\r\n", 0);
    EXPECT_EQ(again.consumed, 0u);
    EXPECT_EQ(again.need, proto::Need::StartTls);
    EXPECT_FALSE(s.expire(1'000'000'000));  // the engine times the handshake, not proto
    s.tls_started();
    EXPECT_EQ(s.need(), proto::Need::Input);
}

}  // namespace
}  // namespace ringmail::test
