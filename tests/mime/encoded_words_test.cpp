// tests/mime/encoded_words_test.cpp — RFC 2047 decoding (the examples of section 8,
// adjacent and folded words, malformed words, charsets) and encoding round trips.
#include "mime/encoded_words.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringmail::mime {
namespace {

// RFC 2047 8, the table of "encoded form" and "displayed as".
TEST(EncodedWords, DecodesRfc2047Section8Table) {
    EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a?=)"), "(a)");
    EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a?= b)"), "(a b)");
    EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)"), "(ab)");
    EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)"), "(ab)");
    EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)"), "(ab)");
    EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a_b?=)"), "(a b)");
    EXPECT_EQ(decode_header_value("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)"), "(a b)");
}

// RFC 2047 8, the message header examples.
TEST(EncodedWords, DecodesRfc2047Section8Headers) {
    EXPECT_EQ(decode_header_value(" =?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>"),
              "Keith Moore <moore@cs.utk.edu>");
    EXPECT_EQ(decode_header_value("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>"),
              "Keld J\xC3\xB8rn Simonsen <keld@dkuug.dk>");
    EXPECT_EQ(decode_header_value("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
              "Andr\xC3\xA9 Pirard <PIRARD@vm1.ulg.ac.be>");
    EXPECT_EQ(decode_header_value("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
                                  "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="),
              "If you can read this you understand the example.");
    EXPECT_EQ(decode_header_value("=?ISO-8859-1?Q?Olle_J=E4rvefelt?= <ojarva@ifi.uio.no>"),
              "Olle J\xC3\xA4rvefelt <ojarva@ifi.uio.no>");
    // Hebrew in ISO-8859-8 inside a comment: "שלום בן נפתלי" stored right to left.
    EXPECT_EQ(decode_header_value("Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n"
                                  "    (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)"),
              "Nathaniel Borenstein <nsb@thumper.bellcore.com>    ("
              "\xD7\x9D\xD7\x95\xD7\x9C\xD7\xA9 \xD7\x9F\xD7\x91 \xD7\x99\xD7\x9C\xD7\x98\xD7\xA4"
              "\xD7\xA0)");
}

TEST(EncodedWords, PlainTextIsUnfoldedAndTrimmed) {
    EXPECT_EQ(decode_header_value(" Hello\r\n world "), "Hello world");
    EXPECT_EQ(decode_header_value("a\r\n\tb"), "a\tb");
    EXPECT_EQ(decode_header_value(""), "");
    EXPECT_EQ(decode_header_value("   "), "");
}

TEST(EncodedWords, JoinsAdjacentWordsSplitAcrossFoldedLines) {
    // One UTF-8 character (é = C3 A9) split across two words and a fold: joined as bytes.
    EXPECT_EQ(decode_header_value("=?UTF-8?Q?caf=C3?=\r\n =?UTF-8?Q?=A9_noir?="), "caf\xC3\xA9 noir");
    EXPECT_EQ(decode_header_value("=?utf-8?B?w6k=?==?utf-8?B?w6k=?="), "\xC3\xA9\xC3\xA9");
    // Text between words is kept, with its blanks.
    EXPECT_EQ(decode_header_value("=?utf-8?q?a?= - =?utf-8?q?b?="), "a - b");
}

TEST(EncodedWords, QEncodingDiffersFromQuotedPrintable) {
    EXPECT_EQ(decode_header_value("=?utf-8?q?a_b=5Fc=3d?="), "a b_c=");
    EXPECT_EQ(decode_header_value("=?utf-8?Q?100=25_sure?="), "100% sure");
    // A malformed escape is kept literally, the rest decoded.
    EXPECT_EQ(decode_header_value("=?utf-8?Q?a=ZZb=4?="), "a=ZZb=4");
}

TEST(EncodedWords, MalformedWordsStayText) {
    EXPECT_EQ(decode_header_value("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");       // encoding
    EXPECT_EQ(decode_header_value("=?utf-8?q?abc"), "=?utf-8?q?abc");           // no end
    EXPECT_EQ(decode_header_value("=??q?abc?="), "=??q?abc?=");                 // no charset
    EXPECT_EQ(decode_header_value("=?utf-8?b?not*base64?="), "=?utf-8?b?not*base64?=");
    EXPECT_EQ(decode_header_value("a =? b ?= c"), "a =? b ?= c");
    // A broken word before a good one does not swallow it.
    EXPECT_EQ(decode_header_value("=?utf-8?q?broken =?utf-8?q?ok?="), "=?utf-8?q?broken ok");
}

TEST(EncodedWords, AcceptsBlanksInsideQTextAsBrokenMailersSendThem) {
    EXPECT_EQ(decode_header_value("=?iso-8859-1?q?Hello World?="), "Hello World");
}

TEST(EncodedWords, WordsInsideTextAndLanguageSuffix) {
    EXPECT_EQ(decode_header_value("Re:=?utf-8?q?caf=C3=A9?="), "Re:caf\xC3\xA9");
    EXPECT_EQ(decode_header_value("=?utf-8*fr?q?caf=C3=A9?="), "caf\xC3\xA9");  // RFC 2231 5
}

TEST(EncodedWords, UnknownCharsetIsBestEffort) {
    // Valid UTF-8 bytes in an unknown charset come through as UTF-8...
    EXPECT_EQ(decode_header_value("=?x-unknown?q?caf=C3=A9?="), "caf\xC3\xA9");
    // ...and other bytes are read as windows-1252 (charset.hpp).
    EXPECT_EQ(decode_header_value("=?x-unknown?q?caf=E9?="), "caf\xC3\xA9");
}

TEST(EncodedWords, RawEightBitTextBecomesUtf8) {
    EXPECT_EQ(decode_header_value("caf\xE9 =?utf-8?q?ok?="), "caf\xC3\xA9 ok");
    EXPECT_EQ(decode_header_value("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(EncodedWords, EncodedWordSizeIsStrict) {
    EXPECT_EQ(encoded_word_size("=?utf-8?q?a?= rest"), 13u);
    EXPECT_EQ(encoded_word_size("=?utf-8?q?a b?="), 0u);
    EXPECT_EQ(encoded_word_size("=?utf-8?b?YQ==?="), 16u);
    EXPECT_EQ(encoded_word_size("x=?utf-8?q?a?="), 0u);
}

TEST(EncodedWords, HostileInputStaysLinear) {
    // Many candidates that never close, then a close: must not rescan (finishes fast).
    std::string s;
    for (int i = 0; i < 20000; ++i) s += "=?a?q?";
    s += "?=";
    const std::string out = decode_header_value(s);
    EXPECT_EQ(out, s.substr(0, s.size() - 8));  // only the last word, "=?a?q??=", decodes
}

TEST(EncodedWords, EncodesAsciiAsIs) {
    EXPECT_EQ(encode_header_value("Hello world"), "Hello world");
    EXPECT_EQ(encode_header_value(""), "");
}

TEST(EncodedWords, EncodesNonAsciiAndRoundTrips) {
    const std::string subjects[] = {
        "caf\xC3\xA9",
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80",  // Привет мир
        "a=?b?q?c?=d",  // looks like a word: must be encoded to survive decoding
        "line\r\nbreak",
        std::string(300, 'x') + "\xE2\x82\xAC" + std::string(100, ' ') + "end",
        "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
        "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
        "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80",
    };
    for (const auto& s : subjects) {
        SCOPED_TRACE(s);
        const std::string enc = encode_header_value(s);
        EXPECT_NE(enc, s);
        EXPECT_EQ(enc.rfind("=?UTF-8?", 0), 0u);
        // Every word within 75 octets, lines separated by CRLF SP only.
        std::size_t pos = 0;
        while (pos <= enc.size()) {
            const auto end = enc.find("\r\n ", pos);
            const std::string line = enc.substr(pos, end == std::string::npos ? end : end - pos);
            EXPECT_LE(line.size(), 75u);
            EXPECT_EQ(encoded_word_size(line), line.size()) << line;
            if (end == std::string::npos) break;
            pos = end + 3;
        }
        EXPECT_EQ(decode_header_value(enc), s);
    }
}

TEST(EncodedWords, AWordDecodingToNothingLeavesNoBlankAtTheEnds) {
    // Found by fuzz_mime_headers: "2" is no base64 of anything.
    EXPECT_EQ(decode_header_value("=?utf-8?b?2?= mma@b"), "mma@b");
    EXPECT_EQ(decode_header_value("x =?utf-8?q?_?="), "x");
    EXPECT_EQ(decode_header_value(encode_header_value("mma@b")), "mma@b");
}

TEST(EncodedWords, PicksTheShorterEncoding) {
    EXPECT_EQ(encode_header_value("caf\xC3\xA9"), "=?UTF-8?Q?caf=C3=A9?=");
    // All non-ASCII: base64 is shorter than =XX for every byte.
    EXPECT_EQ(encode_header_value("\xD0\x9F\xD1\x80\xD0\xB8"), "=?UTF-8?B?0J/RgNC4?=");
}

}  // namespace
}  // namespace ringmail::mime
