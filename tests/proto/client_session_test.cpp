// tests/proto/client_session_test.cpp — the SMTP client state machine against scripted
// server replies, each under every split (for_each_split): the commands written and the
// results must not depend on how the replies arrive.
#include "proto/client_session.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

#include "split.hpp"

using namespace ringmail::proto;
using ringmail::test::for_each_split;
using ringmail::test::Pieces;

namespace {

// Separates what the server sends before the TLS handshake from what it sends after.
constexpr std::string_view kTls = "<<TLS>>";

struct MailRequest {
    std::string from;
    std::vector<std::string> rcpt;
    std::string body;
};

struct Outcome {
    std::string commands;                 // everything the client wrote
    ClientState state = ClientState::Busy;
    ClientError error = ClientError::None;
    std::vector<MailResult> results;
    std::string last;
};

// Feeds the pieces the way engine/smtp_client.cpp does: unconsumed bytes are kept and fed
// again; at NeedTls the rest of the plaintext (up to the kTls marker) is dropped.
Outcome drive(const Pieces& pieces, std::string_view script, ClientOptions opt,
          std::vector<MailRequest> mails, bool quit = true) {
    ClientSession s(opt);
    Outcome run;
    std::string buf;
    const std::size_t marker = script.find(kTls);
    std::size_t pos = 0, skip_until = 0;
    std::size_t next_mail = 0;
    bool in_tx = false, quit_sent = false;
    auto act = [&] {
        for (int guard = 0; guard < 100; ++guard) {
            if (s.state() == ClientState::NeedTls) {
                buf.clear();
                skip_until = marker == std::string_view::npos ? script.size() : marker + kTls.size();
                // What already arrived past the marker came after the handshake.
                if (pos > skip_until) buf = script.substr(skip_until, pos - skip_until);
                s.tls_started();
                continue;
            }
            if (s.state() != ClientState::Ready) break;
            if (in_tx) {
                run.results.push_back(s.result());
                in_tx = false;
            }
            if (next_mail < mails.size()) {
                const auto& m = mails[next_mail++];
                EXPECT_EQ(s.send_mail(m.from, m.rcpt, m.body), ClientError::None);
                in_tx = true;
            } else if (quit && !quit_sent) {
                s.quit();
                quit_sent = true;
            }
            break;
        }
        run.commands += s.output();
        s.output().clear();
    };
    for (auto piece : pieces) {
        for (char c : piece) {
            if (pos++ >= skip_until) buf += c;
        }
        for (int guard = 0; guard < 1000; ++guard) {
            const auto before = s.state();
            const std::size_t n = s.feed(buf);
            buf.erase(0, n);
            act();
            if (buf.empty() || (n == 0 && s.state() == before)) break;
        }
    }
    s.connection_closed();
    if (in_tx) run.results.push_back(s.result());
    run.state = s.state();
    run.error = s.error();
    run.last = s.last_reply().to_string();
    return run;
}

void expect_same(const Outcome& a, const Outcome& b) {
    EXPECT_EQ(a.commands, b.commands);
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(a.error, b.error);
    EXPECT_EQ(a.last, b.last);
    ASSERT_EQ(a.results.size(), b.results.size());
    for (std::size_t i = 0; i < a.results.size(); ++i) {
        EXPECT_EQ(a.results[i].data.to_string(), b.results[i].data.to_string());
        ASSERT_EQ(a.results[i].rcpt.size(), b.results[i].rcpt.size());
        for (std::size_t j = 0; j < a.results[i].rcpt.size(); ++j)
            EXPECT_EQ(a.results[i].rcpt[j].to_string(), b.results[i].rcpt[j].to_string());
    }
}

// Runs the script under every split and checks each gives what the whole one gives.
Outcome run_all(std::string_view script, const ClientOptions& opt, const std::vector<MailRequest>& mails,
            bool quit = true) {
    const Outcome whole = drive(Pieces{script}, script, opt, mails, quit);
    for_each_split(script, [&](const Pieces& p) { expect_same(whole, drive(p, script, opt, mails, quit)); });
    return whole;
}

const std::vector<MailRequest> one_mail{{"a@x.org", {"b@y.org"}, "Subject: hi\r\n\r\nbody\r\n"}};

}  // namespace

TEST(ClientSession, PlainSessionWithoutPipelining) {
    const std::string script =
        "220 mx ESMTP\r\n"
        "250-mx\r\n250 8BITMIME\r\n"
        "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n";
    const Outcome r = run_all(script, {}, one_mail);
    EXPECT_EQ(r.commands,
              "EHLO localhost\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"
              "Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    EXPECT_EQ(r.state, ClientState::Closed);
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_TRUE(r.results[0].delivered());
    EXPECT_TRUE(r.results[0].accepted(0));
    EXPECT_EQ(r.results[0].data.to_string(), "250 queued");
}

TEST(ClientSession, PipelinesMailRcptDataAsOneGroup) {
    const std::string script =
        "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"
        "250 ok\r\n250 ok\r\n550 no such user\r\n354 go\r\n250 queued\r\n221 bye\r\n";
    const std::vector<MailRequest> mails{{"a@x.org", {"b@y.org", "c@y.org"}, "hi"}};
    const Outcome r = run_all(script, {}, mails);
    EXPECT_EQ(r.commands,
              "EHLO localhost\r\nMAIL FROM:<a@x.org> SIZE=7\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\n"
              "DATA\r\nhi\r\n.\r\nQUIT\r\n");
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_TRUE(r.results[0].accepted(0));
    EXPECT_FALSE(r.results[0].accepted(1));
    EXPECT_EQ(r.results[0].rcpt[1].to_string(), "550 no such user");
}

TEST(ClientSession, FallsBackToHeloOn5xx) {
    const std::string script = "220 old\r\n502 what\r\n250 old\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    const Outcome r = run_all(script, {}, one_mail);
    EXPECT_TRUE(r.commands.starts_with("EHLO localhost\r\nHELO localhost\r\nMAIL FROM:<a@x.org>\r\n"));
    EXPECT_EQ(r.state, ClientState::Closed);
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_TRUE(r.results[0].delivered());
}

TEST(ClientSession, AllRecipientsRefusedSkipsData) {
    const std::string script = "220 mx\r\n250 mx\r\n250 ok\r\n550 no\r\n221 bye\r\n";
    const Outcome r = run_all(script, {}, one_mail);
    EXPECT_EQ(r.commands, "EHLO localhost\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nQUIT\r\n");
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_FALSE(r.results[0].delivered());
    EXPECT_EQ(r.results[0].rcpt[0].code, 550);
}

TEST(ClientSession, RsetBetweenMessages) {
    const std::string script =
        "220 mx\r\n250-mx\r\n250 PIPELINING\r\n"
        "250 ok\r\n250 ok\r\n354 go\r\n250 one\r\n"
        "250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n250 two\r\n221 bye\r\n";
    const std::vector<MailRequest> mails{{"a@x.org", {"b@y.org"}, "1"}, {"a@x.org", {"c@y.org"}, "2"}};
    const Outcome r = run_all(script, {}, mails);
    EXPECT_EQ(r.commands,
              "EHLO localhost\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n1\r\n.\r\n"
              "RSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<c@y.org>\r\nDATA\r\n2\r\n.\r\nQUIT\r\n");
    ASSERT_EQ(r.results.size(), 2u);
    EXPECT_EQ(r.results[1].data.to_string(), "250 two");
}

TEST(ClientSession, StartTlsDiscardsInjectedPlaintextAndEhlosAgain) {
    // "250 injected" follows the 220 in plaintext: a man in the middle's attempt to have
    // it read as the reply to the EHLO after TLS (CVE-2011-0411 class).
    const std::string script =
        "220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n"
        "<<TLS>>"
        "250-mx\r\n250 AUTH LOGIN PLAIN\r\n235 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
    ClientOptions opt;
    opt.starttls = true;
    opt.user = "u";
    opt.password = "p";
    const Outcome r = run_all(script, opt, one_mail);
    EXPECT_EQ(r.commands,
              "EHLO localhost\r\nSTARTTLS\r\nEHLO localhost\r\nAUTH PLAIN AHUAcA==\r\n"
              "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    EXPECT_EQ(r.state, ClientState::Closed);
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_TRUE(r.results[0].delivered());
}

TEST(ClientSession, StartTlsRequiredButNotOffered) {
    ClientOptions opt;
    opt.starttls = true;
    const Outcome r = run_all("220 mx\r\n250-mx\r\n250 PIPELINING\r\n", opt, one_mail);
    EXPECT_EQ(r.state, ClientState::Failed);
    EXPECT_EQ(r.error, ClientError::StartTlsNotOffered);
    EXPECT_EQ(r.commands, "EHLO localhost\r\n");
}

TEST(ClientSession, OpportunisticStartTlsWhenOfferedPlaintextOtherwise) {
    ClientOptions opt;
    opt.starttls_if_offered = true;
    const Outcome offered = run_all(
        "220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n<<TLS>>250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n"
        "250 ok\r\n221 bye\r\n", opt, one_mail);
    EXPECT_EQ(offered.commands.substr(0, 42), "EHLO localhost\r\nSTARTTLS\r\nEHLO localhost\r\n");
    ASSERT_EQ(offered.results.size(), 1u);
    EXPECT_TRUE(offered.results[0].delivered());
    const Outcome plain = run_all("220 mx\r\n250-mx\r\n250 PIPELINING\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
                                  opt, one_mail);
    EXPECT_EQ(plain.commands.substr(0, 37), "EHLO localhost\r\nMAIL FROM:<a@x.org>\r\n");
    ASSERT_EQ(plain.results.size(), 1u);
    EXPECT_TRUE(plain.results[0].delivered());
}

TEST(ClientSession, AuthLoginWhenPlainIsMissing) {
    ClientOptions opt;
    opt.user = "alice";
    opt.password = "secret";
    const std::string script = "220 mx\r\n250-mx\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n535 no\r\n";
    const Outcome r = run_all(script, opt, one_mail);
    EXPECT_EQ(r.commands, "EHLO localhost\r\nAUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n");
    EXPECT_EQ(r.error, ClientError::AuthFailed);
    EXPECT_EQ(r.last, "535 no");
}

TEST(ClientSession, AuthNotOffered) {
    ClientOptions opt;
    opt.user = "alice";
    opt.password = "secret";
    const Outcome r = run_all("220 mx\r\n250 mx\r\n", opt, one_mail);
    EXPECT_EQ(r.error, ClientError::AuthNotOffered);
}

TEST(ClientSession, ServiceClosingMidSession) {
    const Outcome r = run_all("220 mx\r\n250 mx\r\n250 ok\r\n421 4.3.2 shutting down\r\n", {}, one_mail);
    EXPECT_EQ(r.state, ClientState::Failed);
    EXPECT_EQ(r.error, ClientError::ServiceClosing);
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_FALSE(r.results[0].delivered());
    EXPECT_EQ(r.results[0].data.code, 421);
}

TEST(ClientSession, GarbageRepliesFailCleanly) {
    for (std::string_view script : {
             std::string_view("220 mx\r\nhello there\r\n"),
             std::string_view("220 mx\r\n250-mx\r\n550 changed code\r\n"),
             std::string_view("220-mx\r\n220-\x01\x02\r\n999 bad\r\n"),
             std::string_view("HTTP/1.1 400 Bad Request\r\n"),
             std::string_view("220 mx\r\n250 mx\r\n250 unasked\r\n"),
         }) {
        SCOPED_TRACE(std::string(script));
        const Outcome r = run_all(script, {}, {}, false);
        EXPECT_EQ(r.state, ClientState::Failed);
        EXPECT_TRUE(r.error == ClientError::BadReply || r.error == ClientError::UnexpectedReply);
    }
}

TEST(ClientSession, OverlongReplyLineAndEndlessRepliesFail) {
    const std::string long_line = "220 " + std::string(5000, 'x') + "\r\n";
    EXPECT_EQ(run_all(long_line, {}, {}, false).error, ClientError::BadReply);
    std::string many = "220 mx\r\n";
    for (int i = 0; i < 200; ++i) many += "250-line\r\n";
    EXPECT_EQ(run_all(many, {}, {}, false).error, ClientError::BadReply);
}

TEST(ClientSession, ConnectionClosedMidDataIsAnError) {
    const Outcome r = run_all("220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n", {}, one_mail);
    EXPECT_EQ(r.state, ClientState::Failed);
    EXPECT_EQ(r.error, ClientError::ConnectionClosed);
}

// The engine times each wait by the reply due (RFC 5321 4.5.3.2); pipelined replies count
// one by one, the first due first.
TEST(ClientSession, AwaitingNamesTheReplyDueFirst) {
    ClientSession s({});
    EXPECT_EQ(s.awaiting(), Awaiting::Greeting);
    std::string buf = "220 mx\r\n";
    s.feed(buf);
    EXPECT_EQ(s.awaiting(), Awaiting::Other);  // EHLO
    buf = "250-mx\r\n250 PIPELINING\r\n";
    s.feed(buf);
    ASSERT_EQ(s.state(), ClientState::Ready);
    EXPECT_EQ(s.awaiting(), Awaiting::Nothing);
    const std::vector<std::string> rcpts{"b@y.org", "c@y.org"};
    ASSERT_EQ(s.send_mail("a@x.org", rcpts, "hi"), ClientError::None);
    const std::pair<std::string_view, Awaiting> steps[] = {
        {"250 ok\r\n", Awaiting::Rcpt}, {"250 ok\r\n", Awaiting::Rcpt}, {"250 ok\r\n", Awaiting::Data},
        {"354 go\r\n", Awaiting::EndOfData}, {"250 queued\r\n", Awaiting::Nothing},
    };
    EXPECT_EQ(s.awaiting(), Awaiting::Mail);
    for (const auto& [reply, next] : steps) {
        buf = reply;
        s.feed(buf);
        EXPECT_EQ(s.awaiting(), next) << reply;
    }
    ASSERT_EQ(s.send_mail("a@x.org", rcpts, "again"), ClientError::None);
    EXPECT_EQ(s.awaiting(), Awaiting::Other);  // RSET first
}

TEST(ClientSession, RefusesAddressesThatWouldInjectCommands) {
    ClientSession s({});
    std::string buf = "220 mx\r\n250 mx\r\n";
    s.feed(buf);
    ASSERT_EQ(s.state(), ClientState::Ready);
    const std::vector<std::string> bad{"b@y.org>\r\nRCPT TO:<evil@z.org"};
    EXPECT_EQ(s.send_mail("a@x.org", bad, "x"), ClientError::BadArgument);
    EXPECT_EQ(s.command("NOOP\r\nQUIT"), ClientError::BadArgument);
    EXPECT_EQ(s.command("NOOP"), ClientError::None);
}

TEST(StuffBody, NormalisesLineEndsAndStuffsDots) {
    EXPECT_EQ(stuff_body(""), ".\r\n");
    EXPECT_EQ(stuff_body("a"), "a\r\n.\r\n");
    EXPECT_EQ(stuff_body("a\nb\rc\r\n"), "a\r\nb\r\nc\r\n.\r\n");
    EXPECT_EQ(stuff_body(".\r\n"), "..\r\n.\r\n");
    EXPECT_EQ(stuff_body("x\r\n.\r\ny"), "x\r\n..\r\ny\r\n.\r\n");
    // The smuggling sequences of 2023: bare LF dot bare LF, CR dot CR.
    EXPECT_EQ(stuff_body("a\n.\nb"), "a\r\n..\r\nb\r\n.\r\n");
    EXPECT_EQ(stuff_body("a\r.\rb"), "a\r\n..\r\nb\r\n.\r\n");
    EXPECT_EQ(stuff_body("a\r\r\n.b"), "a\r\n\r\n..b\r\n.\r\n");
    EXPECT_EQ(stuff_body("\n\r\r\n\n"), "\r\n\r\n\r\n\r\n.\r\n");
    EXPECT_EQ(stuff_body("x\r"), "x\r\n.\r\n");
}

// stuff_body scans with memchr; this is the octet-at-a-time definition it must agree
// (and crlf_body_size the size of the normalised body) with, on every string of up to 7 octets from {CR, LF, '.', 'a'} and random longer ones.
std::string line_ends_reference(std::string_view body, bool stuff) {
    std::string out;
    bool line_start = true;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < body.size() && body[i + 1] == '\n') ++i;
            out += "\r\n";
            line_start = true;
            continue;
        }
        if (stuff && line_start && c == '.') out += '.';
        out += c;
        line_start = false;
    }
    if (!line_start) out += "\r\n";
    return out;
}
std::string stuff_body_reference(std::string_view body) { return line_ends_reference(body, true) + ".\r\n"; }
std::string normalised_reference(std::string_view body) { return line_ends_reference(body, false); }

TEST(StuffBody, AgreesWithTheOctetAtATimeDefinition) {
    constexpr char kAlphabet[] = {'\r', '\n', '.', 'a'};
    for (std::size_t len = 0; len <= 7; ++len) {
        std::size_t combos = 1;
        for (std::size_t i = 0; i < len; ++i) combos *= 4;
        for (std::size_t n = 0; n < combos; ++n) {
            std::string body;
            for (std::size_t i = 0, v = n; i < len; ++i, v /= 4) body += kAlphabet[v % 4];
            ASSERT_EQ(stuff_body(body), stuff_body_reference(body)) << testing::PrintToString(body);
            ASSERT_EQ(crlf_body_size(body), normalised_reference(body).size()) << testing::PrintToString(body);
        }
    }
    std::uint32_t seed = 12345;
    for (int round = 0; round < 2000; ++round) {
        std::string body;
        seed = seed * 1664525 + 1013904223;
        const std::size_t len = seed % 300;
        for (std::size_t i = 0; i < len; ++i) {
            seed = seed * 1664525 + 1013904223;
            const unsigned r = (seed >> 16) % 16;  // mostly letters, so lines are long
            body += r < 4 ? kAlphabet[r] : static_cast<char>('b' + r);
        }
        ASSERT_EQ(stuff_body(body), stuff_body_reference(body)) << testing::PrintToString(body);
    }
}

// RFC 3030: with CHUNKING offered the body goes as one BDAT ... LAST chunk, pipelined
// after the RCPTs with PIPELINING: line ends normalised, dots not doubled, no terminator.
TEST(ClientSession, BdatWhenChunkingOfferedPipelined) {
    const std::string script =
        "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 1000\r\n250 CHUNKING\r\n"
        "250 ok\r\n250 ok\r\n550 no such user\r\n250 2.0.0 queued\r\n221 bye\r\n";
    const std::vector<MailRequest> mails{
        {"a@x.org", {"b@y.org", "c@y.org"}, "Subject: hi\r\n\r\n.dot\n..two\rcaf\xc3\xa9\r\n.\r\nend"}};
    const Outcome r = run_all(script, {}, mails);
    EXPECT_EQ(r.commands,
              "EHLO localhost\r\nMAIL FROM:<a@x.org> SIZE=43 BODY=8BITMIME\r\nRCPT TO:<b@y.org>\r\n"
              "RCPT TO:<c@y.org>\r\nBDAT 43 LAST\r\n"
              "Subject: hi\r\n\r\n.dot\r\n..two\r\ncaf\xc3\xa9\r\n.\r\nend\r\nQUIT\r\n");
    EXPECT_EQ(r.state, ClientState::Closed);
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_TRUE(r.results[0].chunked);
    EXPECT_TRUE(r.results[0].delivered());
    EXPECT_TRUE(r.results[0].accepted(0));
    EXPECT_FALSE(r.results[0].accepted(1));
    EXPECT_EQ(r.results[0].data.to_string(), "250 2.0.0 queued");
}

// Without PIPELINING each command waits for its reply, BDAT included, and RSET comes
// before the second message as with DATA.
TEST(ClientSession, BdatWithoutPipeliningWaitsForEachReply) {
    const std::string script =
        "220 mx\r\n250-mx\r\n250 CHUNKING\r\n"
        "250 ok\r\n250 ok\r\n250 one\r\n"
        "250 reset\r\n250 ok\r\n250 ok\r\n250 two\r\n221 bye\r\n";
    const std::vector<MailRequest> mails{{"a@x.org", {"b@y.org"}, ".1"}, {"a@x.org", {"c@y.org"}, "2\n"}};
    const Outcome r = run_all(script, {}, mails);
    EXPECT_EQ(r.commands,
              "EHLO localhost\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nBDAT 4 LAST\r\n.1\r\n"
              "RSET\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<c@y.org>\r\nBDAT 3 LAST\r\n2\r\nQUIT\r\n");
    ASSERT_EQ(r.results.size(), 2u);
    EXPECT_TRUE(r.results[0].chunked && r.results[1].chunked);
    EXPECT_EQ(r.results[0].data.to_string(), "250 one");
    EXPECT_EQ(r.results[1].data.to_string(), "250 two");
    EXPECT_TRUE(r.results[1].accepted(0));
}

TEST(ClientSession, DataWhenChunkingIsOffWhenNotOfferedOrOverTheServersSize) {
    ClientOptions off;
    off.chunking = false;
    const Outcome r = run_all("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
                              "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n", off, one_mail);
    EXPECT_EQ(r.commands,
              "EHLO localhost\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"
              "Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_FALSE(r.results[0].chunked);
    EXPECT_TRUE(r.results[0].delivered());
    // Over the declared SIZE: a pipelined chunk would go in full before MAIL's refusal.
    const Outcome big = run_all("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250-SIZE 10\r\n250 CHUNKING\r\n"
                                "552 too big\r\n503 no\r\n503 no\r\n221 bye\r\n", {}, one_mail);
    EXPECT_EQ(big.commands,
              "EHLO localhost\r\nMAIL FROM:<a@x.org> SIZE=24\r\nRCPT TO:<b@y.org>\r\nDATA\r\nQUIT\r\n");
    ASSERT_EQ(big.results.size(), 1u);
    EXPECT_FALSE(big.results[0].chunked);
    EXPECT_FALSE(big.results[0].delivered());
    EXPECT_EQ(big.results[0].mail.code, 552);
}

// RFC 3030 2: the server reads a pipelined chunk even with no recipient and refuses it;
// the result says no recipient was accepted, as on the DATA path.
TEST(ClientSession, AllRecipientsRefusedWithPipelinedBdat) {
    const std::vector<MailRequest> mails{{"a@x.org", {"b@y.org", "c@y.org"}, "x"}};
    const Outcome r = run_all("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
                              "250 ok\r\n550 no\r\n450 later\r\n554 5.5.1 No valid recipients\r\n221 bye\r\n",
                              {}, mails);
    EXPECT_EQ(r.commands,
              "EHLO localhost\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nRCPT TO:<c@y.org>\r\n"
              "BDAT 3 LAST\r\nx\r\nQUIT\r\n");
    EXPECT_EQ(r.state, ClientState::Closed);
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_FALSE(r.results[0].delivered());
    EXPECT_FALSE(r.results[0].accepted(0) || r.results[0].accepted(1));
    EXPECT_EQ(r.results[0].rcpt[0].code, 550);
    EXPECT_EQ(r.results[0].rcpt[1].code, 450);
    EXPECT_EQ(r.results[0].data.to_string(), "554 5.5.1 No valid recipients");
    EXPECT_TRUE(r.results[0].chunked);
    // MAIL refused: every later reply of the group is a refusal too.
    const Outcome m = run_all("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
                              "550 sender\r\n503 no\r\n503 no\r\n503 5.5.1 No transaction\r\n221 bye\r\n", {}, mails);
    ASSERT_EQ(m.results.size(), 1u);
    EXPECT_FALSE(m.results[0].delivered());
    EXPECT_EQ(m.results[0].mail.code, 550);
    EXPECT_EQ(m.results[0].data.code, 503);
    EXPECT_EQ(m.state, ClientState::Closed);
    // A server that says 250 to the chunk after refusing everyone delivered to no one.
    const Outcome odd = run_all("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
                                "250 ok\r\n550 no\r\n550 no\r\n250 fine\r\n221 bye\r\n", {}, mails);
    ASSERT_EQ(odd.results.size(), 1u);
    EXPECT_FALSE(odd.results[0].delivered());
    EXPECT_EQ(odd.results[0].data.code, 0);
}

TEST(ClientSession, AllRecipientsRefusedWithoutPipeliningSendsNoBdat) {
    const Outcome r = run_all("220 mx\r\n250-mx\r\n250 CHUNKING\r\n250 ok\r\n550 no\r\n221 bye\r\n", {}, one_mail);
    EXPECT_EQ(r.commands, "EHLO localhost\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nQUIT\r\n");
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_FALSE(r.results[0].delivered());
    EXPECT_EQ(r.results[0].rcpt[0].code, 550);
    EXPECT_EQ(r.results[0].data.code, 0);
    EXPECT_FALSE(r.results[0].chunked);
}

// A refused chunk is the message's data reply: 5xx fails, 4xx defers every recipient.
TEST(ClientSession, BdatRefused) {
    for (std::string_view refusal : {std::string_view("554 5.6.0 rejected"), std::string_view("452 4.3.1 full")}) {
        SCOPED_TRACE(std::string(refusal));
        const std::string script = "220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n" +
                                   std::string(refusal) + "\r\n221 bye\r\n";
        const Outcome r = run_all(script, {}, one_mail);
        EXPECT_EQ(r.state, ClientState::Closed);
        ASSERT_EQ(r.results.size(), 1u);
        EXPECT_FALSE(r.results[0].delivered());
        EXPECT_FALSE(r.results[0].accepted(0));
        EXPECT_EQ(r.results[0].rcpt[0].code, 250);
        EXPECT_EQ(r.results[0].data.to_string(), refusal);
    }
    const Outcome closing = run_all("220 mx\r\n250-mx\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n421 4.3.2 bye\r\n",
                                    {}, one_mail);
    EXPECT_EQ(closing.error, ClientError::ServiceClosing);
    ASSERT_EQ(closing.results.size(), 1u);
    EXPECT_EQ(closing.results[0].data.code, 421);
    const Outcome lost = run_all("220 mx\r\n250-mx\r\n250 CHUNKING\r\n250 ok\r\n250 ok\r\n", {}, one_mail);
    EXPECT_EQ(lost.error, ClientError::ConnectionClosed);
    EXPECT_TRUE(lost.commands.ends_with("BDAT 21 LAST\r\nSubject: hi\r\n\r\nbody\r\n"));
}

namespace {
// append_crlf_body after other bytes, checked against crlf_body_size.
std::string crlf_body(std::string_view body) {
    std::string out = "prefix:";
    append_crlf_body(out, body);
    EXPECT_EQ(out.size(), 7 + crlf_body_size(body));
    return out.substr(7);
}
}  // namespace

TEST(CrlfBody, NormalisesLineEndsWithoutStuffing) {
    EXPECT_EQ(crlf_body(""), "");
    EXPECT_EQ(crlf_body("a"), "a\r\n");
    EXPECT_EQ(crlf_body("a\r\n"), "a\r\n");
    EXPECT_EQ(crlf_body("a\nb\rc\r\n"), "a\r\nb\r\nc\r\n");
    EXPECT_EQ(crlf_body("\n\r\r\n\n"), "\r\n\r\n\r\n\r\n");
    EXPECT_EQ(crlf_body("x\r\n.\r\ny"), "x\r\n.\r\ny\r\n");
    EXPECT_EQ(crlf_body(".\r\n"), ".\r\n");
    EXPECT_EQ(crlf_body("a\n.\nb"), "a\r\n.\r\nb\r\n");
    EXPECT_EQ(crlf_body("a\r.\rb"), "a\r\n.\r\nb\r\n");
    EXPECT_EQ(crlf_body("a\r\r\n.b"), "a\r\n\r\n.b\r\n");
    EXPECT_EQ(crlf_body("end\r"), "end\r\n");
    EXPECT_EQ(crlf_body(std::string_view("8\xff\0bit\r\n", 8)), std::string_view("8\xff\0bit\r\n", 8));
    // Already all-CRLF: the same bytes, its own size.
    const std::string clean = "Subject: x\r\n\r\n..\r\n.\r\n";
    EXPECT_EQ(crlf_body_size(clean), clean.size());
    EXPECT_EQ(crlf_body(clean), clean);
}

TEST(ParseExtensions, KeywordsAndAuthForms) {
    ServerReply r{250, {"mx", "PIPELINING", "size 1000", "AUTH=LOGIN", "AUTH plain CRAM-MD5", "STARTTLS",
                        "8BITMIME", "SMTPUTF8", "CHUNKING", "ENHANCEDSTATUSCODES"}};
    const Extensions e = parse_extensions(r);
    EXPECT_TRUE(e.pipelining && e.starttls && e.eight_bit_mime && e.smtputf8 && e.chunking && e.enhanced_status);
    EXPECT_EQ(e.size, 1000u);
    EXPECT_TRUE(e.has_auth("LOGIN") && e.has_auth("PLAIN") && e.has_auth("CRAM-MD5"));
}

namespace {

// The commands a session writes for one message sent with send_mail_taking, and what is
// left in the caller's buffer.
std::pair<std::string, std::string> taking(std::string ehlo_keywords, std::string body) {
    ClientSession s({});
    std::string in = "220 mx\r\n250-mx\r\n" + ehlo_keywords + "\r\n";
    s.feed(in);
    EXPECT_EQ(s.state(), ClientState::Ready);
    const std::vector<std::string> rcpt{"b@y.org"};
    EXPECT_EQ(s.send_mail_taking("a@x.org", rcpt, body), ClientError::None);
    std::string replies = "250 ok\r\n250 ok\r\n354 go\r\n";
    s.feed(replies);
    return {s.output(), body};
}

}  // namespace

// A CRLF body with no leading dots is taken as it is: the same commands as send_mail, and
// the caller gets an empty buffer back. Any other body is copied and stuffed, and the
// caller's buffer is left alone.
TEST(ClientSession, SendMailTakingTakesOnlyABodyThatGoesAsItIs) {
    const std::string ready = "Subject: x\r\n\r\nline one\r\n caf\xc3\xa9 .\r\n";
    auto [out, left] = taking("250 8BITMIME", ready);
    EXPECT_EQ(out, "EHLO localhost\r\nMAIL FROM:<a@x.org> BODY=8BITMIME\r\nRCPT TO:<b@y.org>\r\nDATA\r\n" + ready + ".\r\n");
    EXPECT_EQ(left, "");
    for (const std::string body : {"a\r\n.dot\r\n", ".first\r\n", "no end", "lone\nlf\r\n", "lone\rcr\r\n"}) {
        auto [stuffed, kept] = taking("250 PIPELINING", body);
        EXPECT_EQ(stuffed, "EHLO localhost\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n" + stuff_body(body));
        EXPECT_EQ(kept, body);
    }
}
