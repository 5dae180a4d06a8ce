// tests/mime/stream_parser_test.cpp — StreamParser on byte buffers: bodies, attachments,
// nesting, broken input; every case through for_each_split (invariant 3).
#include "mime/stream_parser.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/proto/split.hpp"

namespace ringmail::mime {
namespace {

using test::for_each_split;
using test::Pieces;

ParsedMail parse_pieces(const Pieces& pieces) {
    StreamParser p;
    for (auto piece : pieces) p.feed({piece.data(), piece.size()});
    return p.finish();
}

// Parses every split and checks that each gives what the whole input gives.
ParsedMail parse_all_splits(std::string_view msg) {
    const ParsedMail whole = parse_message(msg);
    for_each_split(msg, [&](const Pieces& pieces) {
        const ParsedMail m = parse_pieces(pieces);
        EXPECT_EQ(m.message, whole.message);
        EXPECT_EQ(m.message_is_html, whole.message_is_html);
        EXPECT_EQ(m.subject, whole.subject);
        EXPECT_EQ(m.from, whole.from);
        EXPECT_EQ(m.to, whole.to);
        EXPECT_EQ(m.cc, whole.cc);
        EXPECT_EQ(m.bcc, whole.bcc);
        ASSERT_EQ(m.attachments.size(), whole.attachments.size());
        for (const auto& [name, a] : whole.attachments) {
            auto it = m.attachments.find(name);
            ASSERT_NE(it, m.attachments.end()) << name;
            EXPECT_EQ(it->second.data, a.data) << name;
            EXPECT_EQ(it->second.type, a.type) << name;
        }
    }, 2048);
    return whole;
}

TEST(StreamParser, PlainTextMessage) {
    const auto m = parse_all_splits(
        "From: Alice <a@example.com>\r\nTo: b@example.com\r\nSubject: Hello\r\n\r\nLine one\r\nLine two\r\n");
    EXPECT_EQ(m.message, "Line one\r\nLine two\r\n");
    EXPECT_FALSE(m.message_is_html);
    EXPECT_EQ(m.from, "Alice <a@example.com>");
    EXPECT_EQ(m.to, "b@example.com");
    EXPECT_EQ(m.subject, "Hello");
    EXPECT_FALSE(m.cc.has_value());
    EXPECT_TRUE(m.attachments.empty());
}

// Control bytes never fold to letters: "base\x16\x14" is an unknown encoding, so the
// body stays as it is (every other MIME reader agrees), not base64-decoded.
TEST(StreamParser, ControlBytesInEncodingNameAreNotBase64) {
    const auto m = parse_all_splits(std::string(
        "Subject: x\r\nContent-Transfer-Encoding: base\x16\x14\r\n\r\naGVsbG8=\r\n"));
    EXPECT_EQ(m.message, "aGVsbG8=\r\n");
}

TEST(StreamParser, FoldedSubjectIsUnfolded) {
    const auto m = parse_all_splits("Subject: a long\r\n subject line\r\n\r\nbody\r\n");
    EXPECT_EQ(m.subject, "a long subject line");
}

TEST(StreamParser, AlternativePrefersHtml) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
        "preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
        "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n--b1--\r\nepilogue\r\n");
    EXPECT_TRUE(m.message_is_html);
    EXPECT_EQ(m.message, "<p>html</p>");
    EXPECT_TRUE(m.attachments.empty());
}

TEST(StreamParser, MixedWithBase64Attachment) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        "--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--XX\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n"
        "SGVsbG8s\r\nIHdvcmxk\r\nIQ==\r\n--XX--\r\n");
    EXPECT_EQ(m.message, "see attached");
    ASSERT_EQ(m.attachments.count("report.pdf"), 1u);
    EXPECT_EQ(m.attachments.at("report.pdf").data, "Hello, world!");
    EXPECT_EQ(m.attachments.at("report.pdf").type, "application/pdf");
}

TEST(StreamParser, QuotedPrintableHtmlBody) {
    const auto m = parse_all_splits(
        "Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        "<p>caf=E9 soft=\r\nbreak</p>\r\n");
    EXPECT_TRUE(m.message_is_html);
    EXPECT_EQ(m.message, "<p>caf\xc3\xa9 softbreak</p>\r\n");
}

// The body's UTF-8 check runs as the bytes are decoded (charset.hpp, Utf8Check); a
// character cut by any split, a bad byte, and each transfer encoding give what a check of
// the whole body gives.
TEST(StreamParser, BodyCharsetCheckedAsItIsDecoded) {
    auto msg = [](std::string_view charset, std::string_view cte, std::string_view body) {
        return "Content-Type: text/plain; charset=" + std::string(charset) +
               "\r\nContent-Transfer-Encoding: " + std::string(cte) + "\r\n\r\n" + std::string(body);
    };
    EXPECT_EQ(parse_all_splits(msg("utf-8", "8bit", "caf\xc3\xa9 \xe2\x82\xac\r\n")).message,
              "caf\xc3\xa9 \xe2\x82\xac\r\n");
    EXPECT_EQ(parse_all_splits(msg("utf-8", "quoted-printable", "caf=C3=\r\n=A9 =E2=82=AC\r\n")).message,
              "caf\xc3\xa9 \xe2\x82\xac\r\n");
    EXPECT_EQ(parse_all_splits(msg("utf-8", "base64", "Y2Fmw6kg4oKs\r\n")).message, "caf\xc3\xa9 \xe2\x82\xac");
    // Bad UTF-8 under a UTF-8 label: U+FFFD, the rest kept.
    EXPECT_EQ(parse_all_splits(msg("utf-8", "8bit", "a\xff" "b\xe2\x82\r\n")).message,
              "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\r\n");
    // Latin-1 bytes: converted; ASCII under any ASCII-compatible label: kept.
    EXPECT_EQ(parse_all_splits(msg("iso-8859-1", "quoted-printable", "caf=E9\r\n")).message, "caf\xc3\xa9\r\n");
    EXPECT_EQ(parse_all_splits(msg("koi8-r", "7bit", "plain\r\n")).message, "plain\r\n");
    // A body truncated inside a character is checked at its end.
    EXPECT_EQ(parse_all_splits(msg("utf-8", "8bit", "end\xc3")).message, "end\xEF\xBF\xBD");
}

TEST(StreamParser, RelatedInlineImageFoundByContentId) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/related; boundary=r\r\n\r\n"
        "--r\r\nContent-Type: text/html\r\n\r\n<img src=\"cid:logo@x\">\r\n"
        "--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "iVBORw==\r\n--r--\r\n");
    EXPECT_EQ(m.message, "<img src=\"cid:logo@x\">");
    ASSERT_EQ(m.attachments.count("logo@x"), 1u);
    EXPECT_EQ(m.attachments.at("logo@x").content_id, "logo@x");
    EXPECT_EQ(m.attachments.at("logo@x").data, std::string("\x89PNG", 4));
}

TEST(StreamParser, NestedMultipartsAndOuterDelimiterClosesInner) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
        "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
        "--inner\r\nContent-Type: text/plain\r\n\r\ntext\r\n"
        "--inner\r\nContent-Type: text/html\r\n\r\n<b>x</b>\r\n"
        "--outer\r\nContent-Type: text/csv; name=a.csv\r\n\r\n1,2\r\n3,4\r\n--outer--\r\n");
    EXPECT_EQ(m.message, "<b>x</b>");
    ASSERT_EQ(m.attachments.count("a.csv"), 1u);
    EXPECT_EQ(m.attachments.at("a.csv").data, "1,2\r\n3,4");
}

TEST(StreamParser, DuplicateAndMissingNames) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\n\r\nbody\r\n"
        "--b\r\nContent-Type: text/plain; name=a.txt\r\n\r\none\r\n"
        "--b\r\nContent-Type: text/plain; name=a.txt\r\n\r\ntwo\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\n\r\nraw\r\n--b--\r\n");
    EXPECT_EQ(m.message, "body");
    EXPECT_EQ(m.attachments.at("a.txt").data, "one");
    EXPECT_EQ(m.attachments.at("a (2).txt").data, "two");
    EXPECT_EQ(m.attachments.at("part-4.bin").data, "raw");
}

TEST(StreamParser, MessageRfc822IsAnAttachment) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nfwd\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n");
    ASSERT_EQ(m.attachments.size(), 1u);
    EXPECT_EQ(m.attachments.begin()->second.type, "message/rfc822");
    EXPECT_EQ(m.attachments.begin()->second.data, "Subject: inner\r\n\r\ninner body");
    EXPECT_EQ(m.subject, std::nullopt);
}

TEST(StreamParser, DashLinesThatAreNotDelimitersStayContent) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\n\r\n-- \r\nsig\r\n--bx\r\n---\r\n--b \r\n");
    EXPECT_EQ(m.message, "-- \r\nsig\r\n--bx\r\n---");
}

TEST(StreamParser, MissingFinalBoundaryKeepsWhatArrived) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nunfinished\r\nmore");
    EXPECT_EQ(m.message, "unfinished\r\nmore");
}

TEST(StreamParser, WrongBoundaryMeansNoParts) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=nope\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n");
    EXPECT_TRUE(m.message.empty());
    EXPECT_TRUE(m.attachments.empty());
}

TEST(StreamParser, BareLfMessages) {
    const auto m = parse_all_splits(
        "Subject: lf\nContent-Type: multipart/alternative; boundary=z\n\n--z\nContent-Type: text/plain\n\nhi\nthere\n--z--\n");
    EXPECT_EQ(m.subject, "lf");
    EXPECT_EQ(m.message, "hi\nthere");
}

TEST(StreamParser, DeepNestingIsBounded) {
    std::string msg;
    for (int i = 0; i < 200; ++i)
        msg += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
    msg += "Content-Type: text/plain\r\n\r\ndeep\r\n";
    const ParsedMail m = parse_message(msg);
    // Past max_depth the rest is one opaque part; nothing crashes and memory stays bounded.
    EXPECT_LE(m.message.size() + (m.attachments.empty() ? 0 : m.attachments.begin()->second.data.size()), msg.size());
}

TEST(StreamParser, OutputNeverExceedsInputOnRandomBytes) {
    std::mt19937 rng(7);
    const std::string alphabet = "-\r\n:;=\"abcXYZ boundary=Content-Type multipart/mixed base64";
    for (int round = 0; round < 300; ++round) {
        std::string msg;
        const int n = static_cast<int>(rng() % 400);
        for (int i = 0; i < n; ++i) msg.push_back(alphabet[rng() % alphabet.size()]);
        const ParsedMail whole = parse_message(msg);
        std::size_t out = whole.message.size();
        for (const auto& [k, a] : whole.attachments) out += a.data.size();
        EXPECT_LE(out, msg.size() * 3);  // charset conversion may widen; decoding never does
        const ParsedMail bytewise = parse_pieces(test::split_every(msg, 1));
        EXPECT_EQ(bytewise.message, whole.message) << msg;
        EXPECT_EQ(bytewise.attachments.size(), whole.attachments.size()) << msg;
    }
}


TEST(StreamParser, HeaderLineThatIsNoFieldStartsTheBody) {
    const auto m = parse_all_splits("Subject: x\r\nno blank line before this body\r\nmore\r\n");
    EXPECT_EQ(m.subject, "x");
    EXPECT_EQ(m.message, "no blank line before this body\r\nmore\r\n");
}

TEST(StreamParser, DoubledDelimiterMakesNoPart) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\nContent-Type: text/plain\r\n\r\nreal\r\n--b--\r\n");
    EXPECT_EQ(m.message, "real");
    EXPECT_TRUE(m.attachments.empty());
}

TEST(StreamParser, RelatedStartParameterNamesTheRoot) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/related; boundary=r; start=\"<root@x>\"\r\n\r\n"
        "--r\r\nContent-Type: image/gif\r\nContent-ID: <img@x>\r\n\r\nGIF\r\n"
        "--r\r\nContent-Type: text/html\r\nContent-ID: <root@x>\r\n\r\n<img src=cid:img@x>\r\n--r--\r\n");
    EXPECT_EQ(m.message, "<img src=cid:img@x>");
    ASSERT_EQ(m.attachments.size(), 1u);
    EXPECT_EQ(m.attachments.begin()->first, "img@x");
}

// Forwarded mbox messages carry "From " (and ">From ") envelope lines among the fields:
// they are skipped, as Python's email, mutt and GMime do, and do not end the header.
TEST(StreamParser, MboxFromLinesInTheTopHeaderAreSkipped) {
    const auto m = parse_all_splits(
        "Subject: x\r\nFrom alice@example.com Mon Jan 1 00:00:00 2024\r\nTo: b@c\r\n\r\nbody");
    EXPECT_EQ(m.subject, "x");
    EXPECT_EQ(m.to, "b@c");
    EXPECT_EQ(m.message, "body");

    const auto q = parse_all_splits(
        "From bob@example.com Mon Jan 1 00:00:00 2024\n>From carol@example.com Tue Jan 2 2024\n"
        "From: Alice <a@example.com>\nFrom dave@example.com Wed Jan 3 2024\nSubject: y\n"
        ">From erin@example.com\nCc: c@d\n\nbody\n");
    EXPECT_EQ(q.from, "Alice <a@example.com>");
    EXPECT_EQ(q.subject, "y");
    EXPECT_EQ(q.cc, "c@d");
    EXPECT_EQ(q.message, "body\n");

    // "From :" is the From field in obsolete syntax (RFC 5322 4.5.3), not an mbox line.
    const auto f = parse_all_splits("Subject: z\r\nFrom : a@b\r\n\r\nbody");
    EXPECT_EQ(f.from, "a@b");
    EXPECT_EQ(f.message, "body");
}

// Only the message's own header: in a part's header a "From " line starts the body.
TEST(StreamParser, MboxFromLineInAPartHeaderStartsItsBody) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\nFrom alice@example.com Mon Jan 1 2024\r\nline\r\n--b--\r\n");
    EXPECT_EQ(m.message, "From alice@example.com Mon Jan 1 2024\r\nline");
}

// RFC 2183: an inline part is shown, so the first inline text part is the body whatever
// its file name (as Python's email, Thunderbird and mutt show it).
TEST(StreamParser, NamedInlineTextPartIsTheBody) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename=notes.txt\r\n\r\nhello\r\n"
        "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\n\r\n%PDF\r\n--b--\r\n");
    EXPECT_EQ(m.message, "hello");
    EXPECT_FALSE(m.message_is_html);
    ASSERT_EQ(m.attachments.size(), 1u);
    EXPECT_EQ(m.attachments.count("r.pdf"), 1u);

    const auto single = parse_all_splits("Subject: s\r\nContent-Type: text/plain; name=\"x.txt\"\r\n\r\nhi\r\n");
    EXPECT_EQ(single.message, "hi\r\n");
    EXPECT_TRUE(single.attachments.empty());

    const auto html = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/html; name=page.html\r\n\r\n<p>x</p>\r\n--b--\r\n");
    EXPECT_TRUE(html.message_is_html);
    EXPECT_EQ(html.message, "<p>x</p>");
    EXPECT_TRUE(html.attachments.empty());

    // Later named text parts are attachments under their names, as before.
    const auto two = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain; name=msg.txt\r\n\r\none\r\n"
        "--b\r\nContent-Type: text/plain; name=msg.txt\r\n\r\ntwo\r\n--b--\r\n");
    EXPECT_EQ(two.message, "one");
    ASSERT_EQ(two.attachments.size(), 1u);
    EXPECT_EQ(two.attachments.at("msg.txt").data, "two");
}

TEST(StreamParser, TextWithAttachmentDispositionStaysAnAttachment) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=log.txt\r\n\r\nlog\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b--\r\n");
    EXPECT_EQ(m.message, "body");
    ASSERT_EQ(m.attachments.size(), 1u);
    EXPECT_EQ(m.attachments.at("log.txt").data, "log");

    const auto single = parse_all_splits("Content-Type: text/html\r\nContent-Disposition: attachment\r\n\r\n<p>x</p>");
    EXPECT_TRUE(single.message.empty());
    ASSERT_EQ(single.attachments.size(), 1u);
    EXPECT_EQ(single.attachments.begin()->second.data, "<p>x</p>");
}

// HTML is still preferred; a named text part is never lost to it, except as the plain
// rendering inside the HTML body's multipart/alternative.
TEST(StreamParser, NamedTextPartsWithAnHtmlBody) {
    const auto alt = parse_all_splits(
        "Content-Type: multipart/alternative; boundary=a\r\n\r\n"
        "--a\r\nContent-Type: text/plain; name=m.txt\r\n\r\nplain\r\n"
        "--a\r\nContent-Type: text/html; name=m.html\r\n\r\n<p>html</p>\r\n--a--\r\n");
    EXPECT_TRUE(alt.message_is_html);
    EXPECT_EQ(alt.message, "<p>html</p>");
    EXPECT_TRUE(alt.attachments.empty());

    for (const bool text_first : {true, false}) {
        const std::string text = "--b\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename=notes.txt\r\n\r\nnotes\r\n";
        const std::string html = "--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n";
        const auto m = parse_all_splits("Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
                                        (text_first ? text + html : html + text) + "--b--\r\n");
        EXPECT_TRUE(m.message_is_html) << text_first;
        EXPECT_EQ(m.message, "<p>hi</p>") << text_first;
        ASSERT_EQ(m.attachments.size(), 1u) << text_first;
        EXPECT_EQ(m.attachments.at("notes.txt").data, "notes") << text_first;
        EXPECT_EQ(m.attachments.at("notes.txt").type, "text/plain") << text_first;
    }
}

// A later inline text part without a name is an attachment (nothing is lost), but one
// that is empty after decoding (mailers add them, e.g. after an attachment) is not.
TEST(StreamParser, EmptyLaterTextPartsAreNoAttachments) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
        "--a\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        "--a\r\nContent-Type: text/html\r\n\r\n<p>body</p>\r\n--a--\r\n"
        "--b\r\nContent-Type: application/pdf; name=r.pdf\r\n\r\n%PDF\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\n\r\n"
        "--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\n--b--\r\n");
    EXPECT_TRUE(m.message_is_html);
    EXPECT_EQ(m.message, "<p>body</p>");
    ASSERT_EQ(m.attachments.size(), 2u);
    EXPECT_EQ(m.attachments.at("r.pdf").data, "%PDF");
    EXPECT_EQ(m.attachments.at("part-8.txt").data, "second");

    const auto t = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        "--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=a.png\r\n\r\nPNG\r\n"
        "--b\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Disposition: inline\r\n\r\n\r\n--b--\r\n");
    EXPECT_EQ(t.message, "body");
    ASSERT_EQ(t.attachments.size(), 1u);
    EXPECT_EQ(t.attachments.count("a.png"), 1u);

    // Empty parts that are files stay: a file name, or not a body candidate at all.
    const auto f = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        "--b\r\nContent-Type: text/plain; name=empty.txt\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\n\r\n--b--\r\n");
    EXPECT_EQ(f.message, "body");
    ASSERT_EQ(f.attachments.size(), 3u);
    EXPECT_EQ(f.attachments.at("empty.txt").data, "");
    EXPECT_EQ(f.attachments.at("part-3.txt").data, "");
    EXPECT_EQ(f.attachments.at("part-4.bin").data, "");
}

// The numbering skips names that are taken, whichever part took them first.
TEST(StreamParser, DuplicateNamesSkipTakenNumbers) {
    const auto m = parse_all_splits(
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: application/pdf; name=\"a (2).pdf\"\r\n\r\n1\r\n"
        "--b\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\n2\r\n"
        "--b\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\n3\r\n"
        "--b\r\nContent-Type: application/pdf; name=\"a (2).pdf\"\r\n\r\n4\r\n"
        "--b\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\n5\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=noext\r\n\r\n6\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=noext\r\n\r\n7\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=.rc\r\n\r\n8\r\n"
        "--b\r\nContent-Type: application/octet-stream; name=.rc\r\n\r\n9\r\n--b--\r\n");
    ASSERT_EQ(m.attachments.size(), 9u);
    EXPECT_EQ(m.attachments.at("a (2).pdf").data, "1");
    EXPECT_EQ(m.attachments.at("a.pdf").data, "2");
    EXPECT_EQ(m.attachments.at("a (3).pdf").data, "3");
    EXPECT_EQ(m.attachments.at("a (2) (2).pdf").data, "4");
    EXPECT_EQ(m.attachments.at("a (4).pdf").data, "5");
    EXPECT_EQ(m.attachments.at("noext").data, "6");
    EXPECT_EQ(m.attachments.at("noext (2)").data, "7");
    EXPECT_EQ(m.attachments.at(".rc").data, "8");
    EXPECT_EQ(m.attachments.at(".rc (2)").data, "9");
}

// 20,000 parts with one name: each gets its own (this was quadratic, seconds of CPU).
TEST(StreamParser, ManyDuplicateNamesAllKept) {
    constexpr std::size_t kParts = 20000;
    std::string msg = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
    for (std::size_t i = 0; i < kParts; ++i)
        msg += "--b\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\n" + std::to_string(i) + "\r\n";
    msg += "--b--\r\n";
    MimeLimits limits;
    limits.max_parts = kParts;
    for_each_split(msg, [&](const Pieces& pieces) {
        StreamParser p(limits);
        for (auto piece : pieces) p.feed({piece.data(), piece.size()});
        const ParsedMail m = p.finish();
        ASSERT_EQ(m.attachments.size(), kParts);  // a std::map: the names are distinct
        EXPECT_EQ(m.attachments.at("a.pdf").data, "0");
        for (std::size_t i = 1; i < kParts; ++i) {
            const auto it = m.attachments.find("a (" + std::to_string(i + 1) + ").pdf");
            ASSERT_NE(it, m.attachments.end()) << i;
            ASSERT_EQ(it->second.data, std::to_string(i));
        }
    });
}

}  // namespace
}  // namespace ringmail::mime

namespace ringmail::mime {
namespace {

void expect_same(const ParsedMail& m, const ParsedMail& want, std::string_view what) {
    EXPECT_EQ(m.message, want.message) << what;
    EXPECT_EQ(m.message_is_html, want.message_is_html) << what;
    EXPECT_EQ(m.subject, want.subject) << what;
    EXPECT_EQ(m.from, want.from) << what;
    EXPECT_EQ(m.to, want.to) << what;
    EXPECT_EQ(m.cc, want.cc) << what;
    EXPECT_EQ(m.bcc, want.bcc) << what;
    ASSERT_EQ(m.attachments.size(), want.attachments.size()) << what;
    for (const auto& [name, a] : want.attachments) {
        auto it = m.attachments.find(name);
        ASSERT_NE(it, m.attachments.end()) << name << " in " << what;
        EXPECT_EQ(it->second.data, a.data) << name;
        EXPECT_EQ(it->second.type, a.type) << name;
        EXPECT_EQ(it->second.content_id, a.content_id) << name;
    }
}

// The server reuses its parsers (reset() between messages): a reused parser must make of
// each message exactly what a new one makes, whatever the message before it left behind
// (a multipart stack, a header cut off in a feed, duplicate names, an abandoned message).
TEST(StreamParser, AResetParserParsesAsANewOne) {
    const std::string big_header = "Subject: " + std::string(20000, 's') + "\r\n";
    const std::vector<std::string> messages = {
        "From: a@example.org\r\nTo: b@example.net\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nplain body\r\n",
        "Content-Type: multipart/mixed; boundary=XX\r\nSubject: two\r\n\r\n"
        "--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--XX\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\nSGVsbG8s\r\nIHdvcmxk\r\nIQ==\r\n"
        "--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\r\nx\r\n"
        "--XX--\r\n",
        "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
        "preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
        "--b1\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        "<p>caf=E9</p>\r\n--b1--\r\nepilogue\r\n",
        "Content-Type: multipart/related; boundary=r; start=\"<root@x>\"\r\n\r\n"
        "--r\r\nContent-Type: image/png\r\nContent-ID: <img@x>\r\n\r\nPNG\r\n"
        "--r\r\nContent-Type: text/html\r\nContent-ID: <root@x>\r\n\r\n<img src=cid:img@x>\r\n--r--\r\n",
        big_header + "To: c@example.com\r\n\r\nafter a large header\r\n",
        "Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n"
        "Content-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\nin\r\n"
        "--outer--\r\n",
        "no header at all, just a line\r\n",
        "",
    };
    std::vector<ParsedMail> fresh;
    for (const std::string& m : messages) fresh.push_back(parse_message(m));
    StreamParser reused;
    for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t k = 0; k < messages.size(); ++k) {
            const std::size_t i = pass == 0 ? k : messages.size() - 1 - k;
            // One abandoned before each: half of the multipart one, never finished.
            reused.feed({messages[1].data(), messages[1].size() / 2});
            reused.reset();
            const std::string& m = messages[i];
            for (std::size_t at = 0; at < m.size(); at += 7) reused.feed({m.data() + at, std::min<std::size_t>(7, m.size() - at)});
            expect_same(reused.finish(), fresh[i], "message " + std::to_string(i));
            reused.reset();
        }
    }
}

}  // namespace
}  // namespace ringmail::mime
