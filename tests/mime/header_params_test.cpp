// tests/mime/header_params_test.cpp — Content-Type / Content-Disposition parameters:
// RFC 2045 5.1 syntax, RFC 2231 continuations and charsets, RFC 2047 words in quoted
// values, broken forms from the wild, and encode_param round trips.
#include "mime/header_params.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringmail::mime {
namespace {

TEST(HeaderParams, ValueAndParamsLowerCasedNames) {
    const auto p = parse_header_params(" Text/Plain; CharSet=\"US-ASCII\"; Format=flowed");
    EXPECT_EQ(p.value, "text/plain");
    EXPECT_EQ(p.param("charset"), "US-ASCII");  // values keep their case
    EXPECT_EQ(p.param("format"), "flowed");
    EXPECT_EQ(p.param("missing"), "");
    EXPECT_EQ(p.params.size(), 2u);
}

TEST(HeaderParams, QuotedValuesKeepSemicolonsAndQuotedPairs) {
    const auto p = parse_header_params(
        "multipart/mixed; boundary=\"a;b=c \\\"d\\\"\"; name=\"x\"");
    EXPECT_EQ(p.value, "multipart/mixed");
    EXPECT_EQ(p.param("boundary"), "a;b=c \"d\"");
    EXPECT_EQ(p.param("name"), "x");
}

TEST(HeaderParams, FoldsCommentsAndBlanks) {
    const auto p = parse_header_params(
        "text/plain (a comment; with semicolon)\r\n\t; charset = us-ascii (Plain text)\r\n ;"
        " name=\"a\r\n b.txt\"");
    EXPECT_EQ(p.value, "text/plain");
    EXPECT_EQ(p.param("charset"), "us-ascii");  // RFC 2045 5.1's example
    EXPECT_EQ(p.param("name"), "a b.txt");
}

// RFC 2231 3, the example of the RFC.
TEST(HeaderParams, Rfc2231Continuations) {
    const auto p = parse_header_params(
        "message/external-body; access-type=URL;\r\n"
        " URL*0=\"ftp://\";\r\n"
        " URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"");
    EXPECT_EQ(p.param("url"), "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
    EXPECT_EQ(p.param("access-type"), "URL");
}

// RFC 2231 4 and 4.1, the examples of the RFC.
TEST(HeaderParams, Rfc2231CharsetAndLanguage) {
    EXPECT_EQ(parse_header_params("application/x-stuff;\r\n"
                                  " title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A")
                  .param("title"),
              "This is ***fun***");
    EXPECT_EQ(parse_header_params("application/x-stuff;\r\n"
                                  " title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
                                  " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
                                  " title*2=\"isn't it!\"")
                  .param("title"),
              "This is even more ***fun*** isn't it!");
}

TEST(HeaderParams, Rfc2231Utf8AndLatin1FileNames) {
    EXPECT_EQ(parse_header_params("attachment; filename*=UTF-8''caf%C3%A9%20menu.pdf").param("filename"),
              "caf\xC3\xA9 menu.pdf");
    EXPECT_EQ(parse_header_params("attachment; filename*=iso-8859-1''caf%E9.pdf").param("filename"),
              "caf\xC3\xA9.pdf");
    // Sections out of order, and a character split across sections.
    EXPECT_EQ(parse_header_params("attachment; filename*1*=%A9.txt; filename*0*=utf-8''caf%C3")
                  .param("filename"),
              "caf\xC3\xA9.txt");
    // Quoted extended value, as some mailers write it.
    EXPECT_EQ(parse_header_params("attachment; filename*=\"utf-8''a%20b.txt\"").param("filename"),
              "a b.txt");
    // No charset: the bytes are read as UTF-8 or else Latin-1.
    EXPECT_EQ(parse_header_params("attachment; filename*=''caf%E9.txt").param("filename"),
              "caf\xC3\xA9.txt");
}

TEST(HeaderParams, Rfc2231WinsOverPlainFallback) {
    const auto p = parse_header_params(
        "attachment; filename=\"cafe.pdf\"; filename*=utf-8''caf%C3%A9.pdf");
    EXPECT_EQ(p.param("filename"), "caf\xC3\xA9.pdf");
    const auto q = parse_header_params(
        "attachment; filename*=utf-8''caf%C3%A9.pdf; filename=\"cafe.pdf\"");
    EXPECT_EQ(q.param("filename"), "caf\xC3\xA9.pdf");
}

TEST(HeaderParams, Rfc2047WordsInQuotedValues) {
    EXPECT_EQ(parse_header_params("attachment; filename=\"=?UTF-8?B?Y2Fmw6kucGRm?=\"").param("filename"),
              "caf\xC3\xA9.pdf");
    EXPECT_EQ(parse_header_params("application/pdf; name=\"=?iso-8859-1?Q?r=E9sum=E9?=\r\n"
                                  " =?iso-8859-1?Q?.pdf?=\"")
                  .param("name"),
              "r\xC3\xA9sum\xC3\xA9.pdf");
}

TEST(HeaderParams, RawEightBitValues) {
    EXPECT_EQ(parse_header_params("attachment; filename=\"caf\xC3\xA9.pdf\"").param("filename"),
              "caf\xC3\xA9.pdf");
    EXPECT_EQ(parse_header_params("attachment; filename=\"caf\xE9.pdf\"").param("filename"),
              "caf\xC3\xA9.pdf");
}

TEST(HeaderParams, BrokenInputIsBestEffort) {
    EXPECT_EQ(parse_header_params("attachment; filename=my file.pdf ; size=3").param("filename"),
              "my file.pdf");
    EXPECT_EQ(parse_header_params("attachment; filename=\"unterminated.pdf").param("filename"),
              "unterminated.pdf");
    const auto p = parse_header_params("text/plain;;; junk; charset=utf-8; =x; name=\"a\"tail; b=1");
    EXPECT_EQ(p.value, "text/plain");
    EXPECT_EQ(p.param("charset"), "utf-8");
    EXPECT_EQ(p.param("name"), "a");
    EXPECT_EQ(p.param("b"), "1");
    EXPECT_EQ(p.params.size(), 3u);
    EXPECT_EQ(parse_header_params("").value, "");
    EXPECT_TRUE(parse_header_params(";").params.empty());
    EXPECT_EQ(parse_header_params("attachment; filename*=utf-8''100%").param("filename"), "100%");
}

TEST(HeaderParams, FirstOfDuplicatesWins) {
    EXPECT_EQ(parse_header_params("text/plain; charset=utf-8; charset=iso-8859-1").param("charset"),
              "utf-8");
}

TEST(HeaderParams, ManyParamsStayCheap) {
    std::string s = "text/plain";
    for (int i = 0; i < 20000; ++i) s += "; p" + std::to_string(i) + "*" + std::to_string(i % 7) + "=v";
    const auto p = parse_header_params(s);
    EXPECT_EQ(p.params.size(), 20000u);
    EXPECT_EQ(p.param("p19999"), "v");
}

TEST(HeaderParams, FlatListInOrderWithCaseInsensitiveLookup) {
    auto p = parse_header_params("Attachment; FileName=\"a.pdf\"; Size=3; filename=\"b.pdf\"; X*0=a; x*1=b");
    EXPECT_EQ(p.value, "attachment");
    ASSERT_EQ(p.params.size(), 3u);  // one entry a name, in order of first appearance
    EXPECT_EQ(p.params[0].first, "filename");
    EXPECT_EQ(p.params[0].second, "a.pdf");
    EXPECT_EQ(p.params[1].first, "size");
    EXPECT_EQ(p.params[2].first, "x");
    EXPECT_EQ(p.params[2].second, "ab");  // continuations join across the names' case
    ASSERT_NE(p.find("FILENAME"), nullptr);
    EXPECT_EQ(*p.find("FILENAME"), "a.pdf");
    EXPECT_EQ(p.find("missing"), nullptr);
    EXPECT_EQ(p.take("Size"), "3");
    EXPECT_EQ(p.take("nope"), "");
}

// Past the names grouped by a linear search the grouping sorts; the result is the same:
// continuations joined whatever their case and order, the first duplicate kept.
TEST(HeaderParams, ManyNamesGroupLikeFew) {
    for (const int names : {3, 16, 17, 40}) {
        SCOPED_TRACE(names);
        std::string s = "text/plain";
        for (int i = 0; i < names; ++i) s += "; n" + std::to_string(i) + "=first";
        s += "; TITLE*1*=%C3%A9; n0=second; Title*0*=utf-8''caf; N1*=utf-8''ext%20";
        const auto p = parse_header_params(s);
        ASSERT_EQ(p.params.size(), static_cast<std::size_t>(names) + 1);
        EXPECT_EQ(p.params[0].first, "n0");
        EXPECT_EQ(p.param("n0"), "first");
        EXPECT_EQ(p.param("n1"), "ext ");  // RFC 2231 wins over the plain value
        EXPECT_EQ(p.param("n2"), "first");
        EXPECT_EQ(p.params.back().first, "title");
        EXPECT_EQ(p.param("title"), "caf\xC3\xA9");
    }
}

TEST(HeaderParams, EncodeParamAsciiAndUtf8) {
    EXPECT_EQ(encode_param("filename", "report.pdf"), "filename=\"report.pdf\"");
    // Quotes and backslashes go percent-encoded: readers disagree on quoted-pairs.
    EXPECT_EQ(encode_param("name", "a \"b\" \\c"), "name*=utf-8''a%20%22b%22%20%5Cc");
    EXPECT_EQ(parse_header_params("x; " + encode_param("name", "a \"b\" \\c")).param("name"), "a \"b\" \\c");
    EXPECT_EQ(encode_param("filename", "caf\xC3\xA9 menu.pdf"), "filename*=utf-8''caf%C3%A9%20menu.pdf");
}

TEST(HeaderParams, EncodeParamRoundTripsLongValuesInContinuations) {
    const std::string values[] = {
        "report.pdf",
        "a \"quoted\" \\ name;with=specials.txt",
        std::string(200, 'a') + "\\" + std::string(59, 'b') + ".txt",
        "caf\xC3\xA9.pdf",
        "a=?utf-8?q?b?=.txt",
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80 " + std::string(80, 'x') +
            "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC.txt",
    };
    for (const auto& v : values) {
        SCOPED_TRACE(v);
        const std::string enc = encode_param("filename", v);
        // Each folded line stays well within RFC 5322 2.1.1's 78 characters.
        std::size_t pos = 0;
        while (true) {
            const auto end = enc.find("\r\n", pos);
            EXPECT_LE((end == std::string::npos ? enc.size() : end) - pos, 78u);
            if (end == std::string::npos) break;
            pos = end + 2;
        }
        EXPECT_EQ(parse_header_params("attachment; " + enc).param("filename"), v);
    }
}

}  // namespace
}  // namespace ringmail::mime
