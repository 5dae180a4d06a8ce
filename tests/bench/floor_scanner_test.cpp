// tests/bench/floor_scanner_test.cpp — the null server's protocol (bench/floor/scanner.hpp) on
// byte buffers: any split of a session gives the same replies, DATA ends only at <CRLF>.<CRLF>
// (dot-stuffed lines, a lone ".\r\n" read, the terminator split across reads), pipelined
// groups, an empty body, and a full reply buffer that stops and resumes without losing a byte.
#include "bench/floor/scanner.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tests/proto/split.hpp"

namespace {

using ringmail::floor::Output;
using ringmail::floor::Scanner;
using ringmail::test::for_each_split;
using ringmail::test::Pieces;
using ringmail::test::split_every;

struct Fed {
    std::string replies;  // every byte the scanner wrote, the greeting included
    bool closed = false;
    std::vector<std::size_t> after_piece;  // replies.size() after each piece
};

// Feeds `pieces` to a fresh scanner as the worker does: when `out` (capacity `cap`) is full,
// its bytes are "sent" (moved to the result) and the rest of the piece is fed again.
Fed run(const Pieces& pieces, std::size_t cap = 1 << 16) {
    Fed r;
    Scanner s;
    std::string buf(cap, '\0');
    Output out{buf.data(), buf.size(), 0};
    s.greet(out);
    for (std::string_view p : pieces) {
        for (int guard = 0; !p.empty() && !r.closed; ++guard) {
            EXPECT_LT(guard, 100000) << "no progress";
            if (guard >= 100000) break;
            const auto scan = s.feed({p.data(), p.size()}, out);
            r.closed = scan.close;
            EXPECT_LE(scan.consumed, p.size());
            if (scan.consumed < p.size() && !scan.close) {
                EXPECT_GT(out.size, 0u) << "stopped with an empty reply buffer";
                if (out.size == 0) break;
            }
            p.remove_prefix(scan.close ? p.size() : scan.consumed);
            r.replies.append(out.data, out.size);
            out.size = 0;
        }
        r.after_piece.push_back(r.replies.size());
    }
    return r;
}

// The reply codes, one per reply: "250-" continuation lines are left out.
std::string codes(std::string_view replies) {
    std::string c;
    while (!replies.empty()) {
        const auto eol = replies.find("\r\n");
        const std::string_view line = replies.substr(0, eol);
        if (line.size() >= 4 && line[3] == ' ') c += (c.empty() ? "" : " ") + std::string(line.substr(0, 3));
        if (eol == std::string_view::npos) break;
        replies.remove_prefix(eol + 2);
    }
    return c;
}

std::string codes_of(std::string_view session) { return codes(run(Pieces{session}).replies); }

constexpr std::string_view kSession =
    "EHLO client.example\r\n"
    "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
    "Subject: one\r\n\r\nbody\r\n..stuffed\r\n.\r\n"
    "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n"
    "\r\n.\r\n"
    "RSET\r\nNOOP\r\nHELP\r\nhelo again\r\nDATA\r\n.\r\nQUIT\r\nNOOP\r\n";
constexpr std::string_view kSessionCodes = "220 250 250 250 354 250 250 250 250 354 250 250 250 500 250 354 250 221";

TEST(FloorScanner, AnswersAWholeSession) {
    const Fed r = run(Pieces{kSession});
    EXPECT_EQ(codes(r.replies), kSessionCodes);
    EXPECT_TRUE(r.closed);
}

TEST(FloorScanner, SameRepliesInEveryPieceSizeFrom1To7) {
    const Fed whole = run(Pieces{kSession});
    for (std::size_t n = 1; n <= 7; ++n) {
        SCOPED_TRACE("pieces of " + std::to_string(n));
        const Fed r = run(split_every(kSession, n));
        EXPECT_EQ(r.replies, whole.replies);
        EXPECT_TRUE(r.closed);
    }
}

TEST(FloorScanner, SameRepliesForEverySplit) {
    const std::string whole = run(Pieces{kSession}).replies;
    for_each_split(kSession, [&](const Pieces& p) { EXPECT_EQ(run(p).replies, whole); });
}

TEST(FloorScanner, EhloAdvertisesPipelining8BitMimeAndSize) {
    const std::string r = run(Pieces{"EHLO x\r\n"}).replies;
    EXPECT_NE(r.find("250-PIPELINING\r\n"), std::string::npos) << r;
    EXPECT_NE(r.find("250-8BITMIME\r\n"), std::string::npos) << r;
    EXPECT_NE(r.find("250 SIZE "), std::string::npos) << r;
    EXPECT_EQ(codes(r), "220 250");
}

TEST(FloorScanner, DotStuffedLinesDoNotEndTheBody) {
    // A line "NOOP" inside the body is text, not a command: no reply for it.
    EXPECT_EQ(codes_of("DATA\r\n..foo\r\n..\r\n.x\r\nNOOP\r\n...\r\n. \r\n"), "220 354");
    EXPECT_EQ(codes_of("DATA\r\n..foo\r\n..\r\n.x\r\nNOOP\r\n...\r\n. \r\n.\r\nNOOP\r\n"), "220 354 250 250");
}

TEST(FloorScanner, BareLfDotDoesNotEndTheBody) {
    // RFC 5321 4.1.1.4: only <CRLF>.<CRLF> (a bare-LF end is how SMTP smuggling starts).
    EXPECT_EQ(codes_of("DATA\r\nx\n.\nNOOP\r\n\r.\r\n"), "220 354");
    EXPECT_EQ(codes_of("DATA\r\nx\n.\nNOOP\r\n\r.\r\n\r\n.\r\n"), "220 354 250");
}

TEST(FloorScanner, DotLineAloneInItsOwnRead) {
    const Fed r = run(Pieces{"DATA\r\n", "hello\r\n", ".\r\n", "NOOP\r\n"});
    EXPECT_EQ(codes(r.replies), "220 354 250 250");
    ASSERT_EQ(r.after_piece.size(), 4u);
    EXPECT_EQ(codes(r.replies.substr(0, r.after_piece[1])), "220 354");      // not ended by "hello\r\n"
    EXPECT_EQ(codes(r.replies.substr(0, r.after_piece[2])), "220 354 250");  // ended by ".\r\n" alone
}

TEST(FloorScanner, EndOfDataSplitAcrossReadsAtEveryByte) {
    constexpr std::string_view kBody = "DATA\r\nabc\r\n.\r\nNOOP\r\n";
    const std::size_t term = kBody.find("\r\n.\r\n");
    for (std::size_t cut = term; cut <= term + 5; ++cut) {
        SCOPED_TRACE("cut at " + std::to_string(cut));
        const Fed r = run(Pieces{kBody.substr(0, cut), kBody.substr(cut)});
        EXPECT_EQ(codes(r.replies), "220 354 250 250");
        // Before the last byte of the terminator nothing but the 354 has been answered.
        const std::string first = codes(r.replies.substr(0, r.after_piece[0]));
        EXPECT_EQ(first, cut == term + 5 ? "220 354 250" : "220 354");
    }
}

TEST(FloorScanner, EmptyBody) {
    EXPECT_EQ(codes_of("MAIL FROM:<>\r\nRCPT TO:<b@x>\r\nDATA\r\n.\r\n"), "220 250 250 354 250");
    // And DATA's CRLF and the ".\r\n" in separate reads.
    EXPECT_EQ(codes(run(Pieces{"DATA\r\n", ".\r\n"}).replies), "220 354 250");
}

TEST(FloorScanner, PipelinedGroupAnsweredFromOneRead) {
    const Fed r = run(Pieces{"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n",
                             "body\r\n.\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"});
    ASSERT_EQ(r.after_piece.size(), 2u);
    EXPECT_EQ(codes(r.replies.substr(0, r.after_piece[0])), "220 250 250 250 354");
    EXPECT_EQ(codes(r.replies), "220 250 250 250 354 250 250 250 354");
}

TEST(FloorScanner, CommandsAreCaseInsensitiveAndNeedAWholeVerb) {
    EXPECT_EQ(codes_of("ehlo x\r\nmail from:<a@x>\r\nRcPt TO:<b@x>\r\nnoop\r\n"), "220 250 250 250 250");
    EXPECT_EQ(codes_of("MAILX FROM:<a@x>\r\nNOO\r\n\r\nVRFY x\r\n"), "220 500 500 500 500");
    EXPECT_EQ(codes_of("NOOP\r\nRSET\n"), "220 250 250");  // a bare LF ends a command line
}

TEST(FloorScanner, QuitClosesAndNothingAfterItIsAnswered) {
    const Fed r = run(Pieces{"NOOP\r\nQUIT\r\nNOOP\r\nNOOP\r\n"});
    EXPECT_EQ(codes(r.replies), "220 250 221");
    EXPECT_TRUE(r.closed);
    EXPECT_FALSE(run(Pieces{"NOOP\r\n"}).closed);
}

TEST(FloorScanner, OverlongLineGets500AndTheNextLineWorks) {
    const std::string line = "NOOP " + std::string(Scanner::kMaxLine, 'x') + "\r\nNOOP\r\n";
    EXPECT_EQ(codes_of(line), "220 500 250");
    for (std::size_t n : {1u, 7u, 333u}) {
        SCOPED_TRACE(n);
        EXPECT_EQ(codes(run(split_every(line, n)).replies), "220 500 250");
    }
    // Just under the limit (with CRLF) is still a command.
    EXPECT_EQ(codes_of("NOOP " + std::string(Scanner::kMaxLine - 7, 'x') + "\r\n"), "220 250");
}

TEST(FloorScanner, FullReplyBufferStopsAndResumesWithTheSameReplies) {
    std::string session;
    for (int i = 0; i < 300; ++i) session += "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nx\r\n.\r\n";
    session += "QUIT\r\n";
    const std::string whole = run(Pieces{session}).replies;
    ASSERT_EQ(codes(whole).size(), 4 + 300 * 16 + 3u);  // "220 " + 300 x "250 250 354 250 " + "221"
    // A buffer a little larger than one reply: feed() must stop at almost every line.
    for (std::size_t cap : {Scanner::kMaxReply, Scanner::kMaxReply + 1, std::size_t{256}, std::size_t{4096}}) {
        SCOPED_TRACE("capacity " + std::to_string(cap));
        EXPECT_EQ(run(Pieces{session}, cap).replies, whole);
        EXPECT_EQ(run(split_every(session, 5), cap).replies, whole);
    }
    Scanner s;
    std::string buf(256, '\0');
    Output out{buf.data(), buf.size(), 0};
    const auto scan = s.feed({session.data(), session.size()}, out);
    EXPECT_LT(scan.consumed, session.size());  // it did stop
    EXPECT_GT(out.size + Scanner::kMaxReply, out.capacity);
}

}  // namespace
