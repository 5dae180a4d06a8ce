// tests/mime/quoted_printable_test.cpp — quoted-printable (RFC 2045 6.7): the streaming
// decoder against a line-at-a-time reference on random input under every split, the
// encoder against a token-list reference and the RFC's rules, round trips, hand cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "mime/quoted_printable.hpp"
#include "tests/proto/split.hpp"

namespace ringmail::mime {
namespace {

using test::for_each_split;
using test::Pieces;

bool is_space(char c) { return c == ' ' || c == '\t'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Obviously correct decoder, one line at a time as RFC 2045 6.7 states the rules: drop
// the line's trailing whitespace (unless too long to be padding), a final '=' makes a
// soft break, then "=XY" escapes; anything malformed is literal.
std::string reference_decode(std::string_view in) {
    std::string out;
    std::size_t i = 0;
    while (i < in.size()) {
        const std::size_t lf = in.find('\n', i);
        std::string_view line = in.substr(i, lf == std::string_view::npos ? std::string_view::npos : lf - i);
        std::string eol;
        if (lf != std::string_view::npos) {
            eol = "\n";
            if (!line.empty() && line.back() == '\r') {
                line.remove_suffix(1);
                eol = "\r\n";
            }
        }
        std::size_t ws = 0;
        while (ws < line.size() && is_space(line[line.size() - 1 - ws])) ++ws;
        if (ws <= kQpMaxTrailingSpace) line.remove_suffix(ws);
        if (!line.empty() && line.back() == '=') {
            line.remove_suffix(1);
            eol.clear();
        }
        for (std::size_t k = 0; k < line.size(); ++k) {
            if (line[k] == '=' && k + 2 < line.size() && hex_value(line[k + 1]) >= 0 &&
                hex_value(line[k + 2]) >= 0) {
                out.push_back(static_cast<char>(hex_value(line[k + 1]) * 16 + hex_value(line[k + 2])));
                k += 2;
            } else {
                out.push_back(line[k]);
            }
        }
        out += eol;
        if (lf == std::string_view::npos) break;
        i = lf + 1;
    }
    return out;
}

// Obviously correct encoder: each line becomes a list of tokens (a byte or "=XY"), then the
// tokens are packed into lines of at most 75 characters plus "=", or 76 for the last.
std::string reference_encode(std::string_view in, bool binary) {
    std::vector<std::string_view> lines;
    std::vector<bool> has_eol;
    if (binary) {
        lines.push_back(in);
        has_eol.push_back(false);
    } else {
        std::size_t i = 0;
        while (i < in.size()) {
            std::size_t lf = in.find('\n', i);
            if (lf == std::string_view::npos) {
                lines.push_back(in.substr(i));
                has_eol.push_back(false);
                break;
            }
            std::size_t e = lf > i && in[lf - 1] == '\r' ? lf - 1 : lf;
            lines.push_back(in.substr(i, e - i));
            has_eol.push_back(true);
            i = lf + 1;
        }
    }
    std::string out;
    for (std::size_t l = 0; l < lines.size(); ++l) {
        std::vector<std::string> tokens;
        for (std::size_t k = 0; k < lines[l].size(); ++k) {
            const auto c = static_cast<unsigned char>(lines[l][k]);
            const bool last = k + 1 == lines[l].size();
            if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
                tokens.emplace_back(1, static_cast<char>(c));
            } else {
                tokens.push_back("=" + std::string(1, "0123456789ABCDEF"[c / 16]) +
                                 std::string(1, "0123456789ABCDEF"[c % 16]));
            }
        }
        std::string cur;
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            const std::size_t len = cur.size() + tokens[t].size();
            if (len > 75 && !(t + 1 == tokens.size() && len <= 76)) {
                out += cur + "=\r\n";
                cur.clear();
            }
            cur += tokens[t];
        }
        out += cur;
        if (has_eol[l]) out += "\r\n";
    }
    return out;
}

std::string decode_pieces(const Pieces& pieces) {
    QpDecoder d;
    std::string out;
    for (auto p : pieces) {
        // Each piece in an allocation of its exact size: a read past it trips ASan.
        const auto exact = std::make_unique<char[]>(p.size());
        std::copy(p.begin(), p.end(), exact.get());
        d.feed(std::string_view(exact.get(), p.size()), out);
    }
    d.finish(out);
    return out;
}

// QP-looking input: text, escapes good and bad, spaces, CR, LF, soft breaks, 8-bit bytes.
std::string random_qp(std::mt19937& rng, std::size_t n) {
    static const std::vector<std::string> kTokens = {
        "a", "Z", "3", "D", "f", "g", " ", "\t", "\r", "\n", "\r\n", "=", "=3D", "=3d", "=C3=A9",
        "=\r\n", "=\n", "= \r\n", "=G", "=4", " \r\n", "  \t\n", "\x80", "=0A", "==", "."};
    std::string s;
    while (s.size() < n) s += kTokens[rng() % kTokens.size()];
    return s;
}

std::string random_bytes(std::mt19937& rng, std::size_t n, bool texty) {
    static constexpr std::string_view kText = "ab =\t\r\n.Z~\x7f\xc3\xa9";
    std::string s(n, '\0');
    for (char& c : s) c = texty ? kText[rng() % kText.size()] : static_cast<char>(rng() & 0xFF);
    return s;
}

// Text mode keeps line breaks as CRLF: a bare LF comes back as CRLF.
std::string crlf_lines(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
        out += s[i];
    }
    return out;
}

// RFC 2045 6.7 (3), (5) and 5322 line rules on an encoder's output.
void expect_well_formed(const std::string& enc) {
    std::size_t col = 0;
    for (std::size_t i = 0; i < enc.size(); ++i) {
        const auto c = static_cast<unsigned char>(enc[i]);
        if (c == '\r') {
            ASSERT_LT(i + 1, enc.size());
            ASSERT_EQ(enc[i + 1], '\n') << "bare CR at " << i;
            ASSERT_LE(col, 76u);
            ASSERT_FALSE(i > 0 && is_space(enc[i - 1])) << "trailing whitespace at " << i;
            col = 0;
            ++i;
            continue;
        }
        ASSERT_NE(c, '\n') << "bare LF at " << i;
        ASSERT_TRUE((c >= 33 && c <= 126) || c == ' ' || c == '\t') << "byte " << int(c);
        ++col;
    }
    ASSERT_LE(col, 76u);
    ASSERT_FALSE(!enc.empty() && is_space(enc.back()));
}

TEST(QuotedPrintable, Rfc2045SoftBreakExample) {
    const std::string_view in =
        "Now's the time =\r\nfor all folk to come=\r\n to the aid of their country.";
    for_each_split(in, [](const Pieces& p) {
        EXPECT_EQ(decode_pieces(p), "Now's the time for all folk to come to the aid of their country.");
    });
}

TEST(QuotedPrintable, DecodesEscapesUpperAndLowerCase) {
    for_each_split("a=3Db=3dc=C3=A9", [](const Pieces& p) { EXPECT_EQ(decode_pieces(p), "a=b=c\xc3\xa9"); });
}

TEST(QuotedPrintable, DropsTrailingWhitespaceBeforeLineEnds) {
    for_each_split("abc \t \r\ndef  \nghi  ", [](const Pieces& p) {
        EXPECT_EQ(decode_pieces(p), "abc\r\ndef\nghi");
    });
    // Encoded whitespace is data, not padding.
    for_each_split("abc=20\r\n", [](const Pieces& p) { EXPECT_EQ(decode_pieces(p), "abc \r\n"); });
}

TEST(QuotedPrintable, SoftBreaksWithLfAndPadding) {
    for_each_split("ab=\ncd= \t\r\nef=  \ngh", [](const Pieces& p) { EXPECT_EQ(decode_pieces(p), "abcdefgh"); });
}

TEST(QuotedPrintable, KeepsMalformedEscapesLiterally) {
    for_each_split("=G0 =4\r\n=\r= x==41", [](const Pieces& p) {
        EXPECT_EQ(decode_pieces(p), "=G0 =4\r\n=\r= x=A");
    });
}

// The edges the decoder's fast path takes inline (escapes, soft breaks, trailing space
// before a line end), cut at every place.
TEST(QuotedPrintable, FastPathEdgesUnderEverySplit) {
    for_each_split("a=\r\nb=3Dc=G1d  \r\ne\t\r\n=\r\n=3d =\r\n", [](const Pieces& p) {
        EXPECT_EQ(decode_pieces(p), "ab=c=G1d\r\ne\r\n= ");
    });
    for_each_split("=C3=A9=\r\n=E2=82=AC x \r\n=\r\n\r\n", [](const Pieces& p) {
        EXPECT_EQ(decode_pieces(p), "\xc3\xa9\xe2\x82\xac x\r\n\r\n");
    });
}

// The decoder appends to what `out` holds and sizes it ahead; many small feeds into a
// large string give what one feed gives.
TEST(QuotedPrintable, AppendsAcrossManySmallFeeds) {
    std::mt19937 rng(2046);
    const std::string in = random_qp(rng, 200000);
    std::string out = "prefix:";
    QpDecoder d;
    for (std::size_t at = 0; at < in.size();) {
        const std::size_t n = std::min<std::size_t>(in.size() - at, 1 + rng() % 300);
        d.feed(std::string_view(in).substr(at, n), out);
        at += n;
    }
    d.finish(out);
    EXPECT_EQ(out, "prefix:" + reference_decode(in));
}

TEST(QuotedPrintable, EndOfDataEndsTheLastLine) {
    EXPECT_EQ(qp_decode("abc="), "abc");
    EXPECT_EQ(qp_decode("abc= "), "abc");
    EXPECT_EQ(qp_decode("abc=4"), "abc=4");
    EXPECT_EQ(qp_decode("abc\r"), "abc\r");
    EXPECT_EQ(qp_decode("abc \t"), "abc");
}

TEST(QuotedPrintable, WhitespaceTooLongForPaddingIsKept) {
    const std::string pad(kQpMaxTrailingSpace, ' ');
    const std::string longer(kQpMaxTrailingSpace + 1, ' ');
    for_each_split("a" + pad + "\r\nb", [](const Pieces& p) { EXPECT_EQ(decode_pieces(p), "a\r\nb"); }, 0);
    const std::string in = "a" + longer + "\r\nb=" + longer + "\r\n";
    const std::string want = "a" + longer + "\r\nb=" + longer + "\r\n";
    for_each_split(in, [&](const Pieces& p) { EXPECT_EQ(decode_pieces(p), want); }, 0);
    EXPECT_EQ(reference_decode(in), want);
}

TEST(QuotedPrintable, DecoderMatchesReferenceUnderEverySplit) {
    std::mt19937 rng(2045);
    for (int round = 0; round < 300; ++round) {
        const std::string in = random_qp(rng, rng() % 120);
        const std::string want = reference_decode(in);
        for_each_split(in, [&](const Pieces& p) { ASSERT_EQ(decode_pieces(p), want) << round; });
    }
}

TEST(QuotedPrintable, DecoderMatchesReferenceOnLargeInputs) {
    std::mt19937 rng(67);
    for (int round = 0; round < 20; ++round) {
        std::string in = random_qp(rng, 50000 + rng() % 1000);
        if (round % 3 == 0) in += std::string(kQpMaxTrailingSpace + round, round % 2 ? ' ' : '\t') + "\r\n";
        if (round % 3 == 1) in = qp_encode(random_bytes(rng, 50000, true));
        const std::string want = reference_decode(in);
        for_each_split(in, [&](const Pieces& p) { ASSERT_EQ(decode_pieces(p), want) << round; }, 0);
    }
}

TEST(QuotedPrintable, EncodesPerRfc2045) {
    EXPECT_EQ(qp_encode("a=b"), "a=3Db");
    EXPECT_EQ(qp_encode("caf\xc3\xa9"), "caf=C3=A9");
    EXPECT_EQ(qp_encode("trailing \r\nand tab\t\nend "), "trailing=20\r\nand tab=09\r\nend=20");
    EXPECT_EQ(qp_encode("bare\rcr"), "bare=0Dcr");
    EXPECT_EQ(qp_encode("\r\n", true), "=0D=0A");
    EXPECT_EQ(qp_encode(std::string(76, 'a')), std::string(76, 'a'));
    EXPECT_EQ(qp_encode(std::string(77, 'a')), std::string(75, 'a') + "=\r\naa");
    // An escape is never split by a soft break.
    EXPECT_EQ(qp_encode(std::string(74, 'a') + "=="), std::string(74, 'a') + "=\r\n=3D=3D");
}

TEST(QuotedPrintable, EncoderMatchesReference) {
    std::mt19937 rng(5);
    for (int round = 0; round < 2000; ++round) {
        const bool binary = round % 2;
        const std::string in = random_bytes(rng, rng() % 400, round % 4 < 2);
        ASSERT_EQ(qp_encode(in, binary), reference_encode(in, binary)) << round;
    }
}

TEST(QuotedPrintable, EncoderOutputIsWellFormed) {
    std::mt19937 rng(6);
    for (int round = 0; round < 500; ++round) {
        const std::string in = random_bytes(rng, rng() % 2000, round % 2);
        SCOPED_TRACE(round);
        expect_well_formed(qp_encode(in, false));
        expect_well_formed(qp_encode(in, true));
    }
}

TEST(QuotedPrintable, RoundTripsRandomInput) {
    std::mt19937 rng(7);
    for (int round = 0; round < 1000; ++round) {
        const std::string in = random_bytes(rng, rng() % (round < 900 ? 300 : 50000), round % 2);
        ASSERT_EQ(qp_decode(qp_encode(in, true)), in) << round;
        ASSERT_EQ(qp_decode(qp_encode(in, false)), crlf_lines(in)) << round;
    }
}

}  // namespace
}  // namespace ringmail::mime
