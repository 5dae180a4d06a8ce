// tests/mime/composer_test.cpp — mime::compose: the shape of the message for each mix of
// text, HTML, cid images and attachments; transfer encodings; header encoding; the line
// invariants (CRLF only, ≤ 998 octets) on random input; and compose → parse round trips.
#include "mime/composer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mime/address_list.hpp"
#include "mime/base64.hpp"
#include "mime/stream_parser.hpp"

namespace {

using ringmail::mime::compose;
using ringmail::mime::ComposeInput;
using ringmail::mime::guess_type;

ComposeInput basic() {
    ComposeInput in;
    in.from = "Alice <alice@example.com>";
    in.to = "bob@example.org";
    in.subject = "Hello";
    in.date = "Tue, 1 Jul 2025 10:00:00 +0000";
    in.message_id = "abc.123@example.com";
    in.boundary_seed = "5eed";
    return in;
}

std::string head_of(const std::string& m) { return m.substr(0, m.find("\r\n\r\n") + 2); }
std::string body_of(const std::string& m) { return m.substr(m.find("\r\n\r\n") + 4); }
bool has(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }
std::size_t count(std::string_view hay, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
    return n;
}

// RFC 5322 2.1.1 and 2.3: CRLF line ends only, every line within 998 octets.
::testing::AssertionResult well_formed(const std::string& m) {
    if (!m.ends_with("\r\n")) return ::testing::AssertionFailure() << "no final CRLF";
    std::size_t col = 0;
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (m[i] == '\r') {
            if (i + 1 == m.size() || m[i + 1] != '\n') return ::testing::AssertionFailure() << "bare CR at " << i;
            col = 0;
            ++i;
        } else if (m[i] == '\n') {
            return ::testing::AssertionFailure() << "bare LF at " << i;
        } else if (++col > 998) {
            return ::testing::AssertionFailure() << "line over 998 octets at " << i;
        }
    }
    // The header section: each line is a field or a continuation (no injected blank line).
    const std::string head = head_of(m);
    for (std::size_t at = 0; at < head.size();) {
        const std::size_t end = head.find("\r\n", at);
        const std::string_view line(head.data() + at, end - at);
        if (line.empty() || (line[0] != ' ' && line[0] != '\t' && line.find(':') == std::string_view::npos))
            return ::testing::AssertionFailure() << "bad header line: " << line;
        at = end + 2;
    }
    return ::testing::AssertionSuccess();
}

// The value of the first "Name:" field (unfolded) in `part`'s header section.
std::string field(std::string_view part, std::string_view name) {
    const std::string key = "\r\n" + std::string(name) + ":";
    const std::string padded = "\r\n" + std::string(part);
    std::size_t at = padded.find(key);
    if (at == std::string::npos) return "<absent>";
    at += key.size();
    std::string v;
    for (;;) {
        const std::size_t end = padded.find("\r\n", at);
        v += padded.substr(at, end - at);
        if (end + 2 >= padded.size() || (padded[end + 2] != ' ' && padded[end + 2] != '\t')) break;
        at = end + 2;
    }
    const std::size_t first = v.find_first_not_of(" \t");
    return first == std::string::npos ? "" : v.substr(first);
}

TEST(Composer, TextOnlyIsOneTextPlainPart) {
    ComposeInput in = basic();
    in.text = "Hi Bob,\nsee you.";
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_EQ(field(m, "Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(field(m, "Content-Transfer-Encoding"), "7bit");
    EXPECT_EQ(field(m, "MIME-Version"), "1.0");
    EXPECT_EQ(field(m, "Date"), "Tue, 1 Jul 2025 10:00:00 +0000");
    EXPECT_EQ(field(m, "Message-ID"), "<abc.123@example.com>");
    EXPECT_EQ(field(m, "From"), "Alice <alice@example.com>");
    EXPECT_EQ(field(m, "To"), "bob@example.org");
    EXPECT_EQ(field(m, "Subject"), "Hello");
    EXPECT_EQ(field(m, "Cc"), "<absent>");
    EXPECT_EQ(body_of(m), "Hi Bob,\r\nsee you.\r\n");
}

TEST(Composer, HtmlOnlyIsOneTextHtmlPart) {
    ComposeInput in = basic();
    in.html = "<p>Hi</p>";
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_EQ(field(m, "Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(body_of(m), "<p>Hi</p>\r\n");
}

TEST(Composer, EmptyMessageIsAnEmptyTextPart) {
    const std::string m = compose(basic());
    EXPECT_TRUE(well_formed(m));
    EXPECT_EQ(field(m, "Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(body_of(m), "");
}

TEST(Composer, TextAndHtmlAreAlternativesTextFirst) {
    ComposeInput in = basic();
    in.text = "plain words";
    in.html = "<b>html words</b>";
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    const std::string ct = field(m, "Content-Type");
    ASSERT_TRUE(ct.starts_with("multipart/alternative; boundary=\"")) << ct;
    const std::string boundary = ct.substr(ct.find('"') + 1, ct.rfind('"') - ct.find('"') - 1);
    const std::string body = body_of(m);
    EXPECT_EQ(count(body, "--" + boundary + "\r\n"), 2u);
    EXPECT_TRUE(body.ends_with("\r\n--" + boundary + "--\r\n"));
    EXPECT_LT(body.find("text/plain"), body.find("text/html"));
    EXPECT_LT(body.find("plain words"), body.find("<b>html words</b>"));
}

TEST(Composer, CidImagesMakeRelatedInline) {
    ComposeInput in = basic();
    in.html = "<img src=\"cid:logo.png\"> and <img src='CID:chart.png'>";
    in.attachments = {{"logo.png", std::string("\x89PNG\r\n\x1a\n\0\0", 10)}, {"chart.png", "xyz"}, {"other.png", "q"}};
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_TRUE(field(m, "Content-Type").starts_with("multipart/mixed;"));
    EXPECT_TRUE(has(m, "Content-Type: multipart/related; boundary=\""));
    EXPECT_TRUE(has(m, "; type=\"text/html\""));
    EXPECT_TRUE(has(m, "Content-ID: <logo.png>\r\n"));
    EXPECT_TRUE(has(m, "Content-ID: <chart.png>\r\n"));
    EXPECT_FALSE(has(m, "Content-ID: <other.png>"));
    EXPECT_TRUE(has(m, "Content-Disposition: inline; filename=\"logo.png\"\r\n"));
    EXPECT_TRUE(has(m, "Content-Disposition: attachment; filename=\"other.png\"\r\n"));
    EXPECT_TRUE(has(m, "Content-Type: image/png; name=\"logo.png\"\r\n"));
    // HTML is the root of the related part and comes before its images; the plain
    // attachment follows the related part.
    EXPECT_LT(m.find("text/html"), m.find("Content-ID: <logo.png>"));
    EXPECT_LT(m.find("Content-ID: <logo.png>"), m.find("filename=\"other.png\""));
    EXPECT_TRUE(has(m, ringmail::mime::base64_encode(std::string("\x89PNG\r\n\x1a\n\0\0", 10))));
}

TEST(Composer, CidNeedsWholeName) {
    ComposeInput in = basic();
    in.html = "<img src=\"cid:logo.png.bak\">";
    in.attachments = {{"logo.png", "x"}};
    const std::string m = compose(in);
    EXPECT_FALSE(has(m, "multipart/related"));
    EXPECT_TRUE(has(m, "Content-Disposition: attachment"));
}

TEST(Composer, TextWithAttachmentIsMixed) {
    ComposeInput in = basic();
    in.text = "see attached";
    in.attachments = {{"report.pdf", std::string(300, '\xff')}};
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_TRUE(field(m, "Content-Type").starts_with("multipart/mixed;"));
    EXPECT_TRUE(has(m, "Content-Type: application/pdf; name=\"report.pdf\"\r\n"));
    EXPECT_TRUE(has(m, "Content-Transfer-Encoding: base64\r\n"));
    EXPECT_TRUE(has(m, ringmail::mime::base64_encode(std::string(300, '\xff'))));
    EXPECT_LT(m.find("see attached"), m.find("report.pdf"));
}

TEST(Composer, TransferEncodingFollowsContent) {
    ComposeInput in = basic();
    in.text = std::string(76, 'a');
    EXPECT_EQ(field(compose(in), "Content-Transfer-Encoding"), "7bit");
    in.text = std::string(77, 'a');
    EXPECT_EQ(field(compose(in), "Content-Transfer-Encoding"), "quoted-printable");
    in.text = "caf\xc3\xa9";
    std::string m = compose(in);
    EXPECT_EQ(field(m, "Content-Transfer-Encoding"), "quoted-printable");
    EXPECT_EQ(body_of(m), "caf=C3=A9\r\n");
    // A clean text attachment goes as is, one with bare LFs as base64 so its bytes survive.
    in.text = "x";
    in.attachments = {{"a.txt", "line\r\n"}, {"b.txt", "unix\nlines\n"}, {"c.csv", "name;city\r\nAnna;K\xc3\xb6ln\r\n"}};
    m = compose(in);
    EXPECT_TRUE(has(m, "name=\"a.txt\"\r\nContent-Transfer-Encoding: 7bit\r\n"));
    EXPECT_TRUE(has(m, "name=\"b.txt\"\r\nContent-Transfer-Encoding: base64\r\n"));
    EXPECT_TRUE(has(m, "name=\"c.csv\"\r\nContent-Transfer-Encoding: quoted-printable\r\n"));
}

TEST(Composer, LineEndsBecomeCrlf) {
    ComposeInput in = basic();
    in.text = "a\nb\rc\r\nd\n\n";
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_EQ(body_of(m), "a\r\nb\r\nc\r\nd\r\n\r\n");
}

TEST(Composer, NonAsciiHeadersAreEncoded) {
    ComposeInput in = basic();
    in.subject = "Grüße aus Köln";
    in.from = "Jörg Müller <joerg@example.de>";
    in.to = "\"Müller, Anna\" <anna@example.de>, plain@example.com, Bob <bob@example.com>";
    in.cc = "Équipe: a@example.fr, b@example.fr;";
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    const std::string head = head_of(m);
    EXPECT_TRUE(std::all_of(head.begin(), head.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
        << head;
    EXPECT_TRUE(field(m, "Subject").starts_with("=?"));
    EXPECT_TRUE(field(m, "From").starts_with("=?"));
    EXPECT_TRUE(field(m, "From").ends_with(" <joerg@example.de>"));
    const std::string to = field(m, "To");
    EXPECT_TRUE(to.starts_with("=?")) << to;
    EXPECT_TRUE(has(to, " <anna@example.de>, plain@example.com, Bob <bob@example.com>")) << to;
    EXPECT_FALSE(has(to.substr(0, to.find('<')), ",")) << "a comma in the encoded name splits the address";
    EXPECT_TRUE(has(field(m, "Cc"), ": a@example.fr, b@example.fr;"));
}

TEST(Composer, AsciiThatLooksEncodedIsProtected) {
    ComposeInput in = basic();
    in.subject = "literally =?utf-8?q?hi?=";
    EXPECT_TRUE(field(compose(in), "Subject").starts_with("=?"));
}

TEST(Composer, NonAsciiAndLongFileNames) {
    ComposeInput in = basic();
    in.text = "x";
    const std::string long_name = std::string(300, 'n') + ".bin";
    const std::string long_utf8 = [] {
        std::string s;
        for (int i = 0; i < 200; ++i) s += "\xc3\xa9";
        return s + ".pdf";
    }();
    in.attachments = {{"r\xc3\xa9sum\xc3\xa9.pdf", "1"}, {long_name, "2"}, {long_utf8, "3"},
                      {"quote\"back\\slash.txt", "4"}};
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_TRUE(has(m, "filename*"));
    // RFC 2231 3: a long ASCII name as continuations; the parser joins them again.
    EXPECT_TRUE(has(m, "filename*0=\"nnnn"));
    EXPECT_TRUE(has(m, "filename*=utf-8''quote%22back%5Cslash.txt"));
    // Our own fields stay within the RFC 5322 78-column recommendation.
    std::size_t col = 0, longest = 0;
    for (char c : m) {
        col = c == '\n' ? 0 : col + 1;
        longest = std::max(longest, col);
    }
    EXPECT_LE(longest, 79u);
    const ringmail::mime::ParsedMail p = ringmail::mime::parse_message(m);
    for (const auto& [name, data] : in.attachments) {
        const auto it = p.attachments.find(name);
        ASSERT_NE(it, p.attachments.end()) << name;
        EXPECT_EQ(it->second.data, data);
    }
}

// The one RFC 2231 encoder never splits a UTF-8 sequence across continuation sections
// (some readers decode each section on its own): every section decodes to valid UTF-8.
TEST(Composer, ContinuationsNeverSplitUtf8) {
    for (const std::string ch : {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x93\x8e"}) {
        for (std::size_t pad = 0; pad < 8; ++pad) {
            ComposeInput in = basic();
            in.text = "x";
            std::string name(pad, 'a');
            for (int i = 0; i < 40; ++i) name += ch;
            in.attachments = {{name + ".pdf", "1"}};
            const std::string m = compose(in);
            std::size_t sections = 0;
            for (std::size_t at = m.find("filename*"); at != std::string::npos; at = m.find("filename*", at + 1)) {
                const std::size_t q = m.find("''", at);
                std::size_t v = m.find('=', at) + 1;
                if (q != std::string::npos && q < m.find('\n', at)) v = q + 2;
                std::string value = m.substr(v, m.find_first_of(";\r", v) - v);
                std::string bytes;
                for (std::size_t i = 0; i < value.size(); ++i) {
                    if (value[i] == '%' && i + 2 < value.size() + 1) {
                        bytes += static_cast<char>(std::stoi(value.substr(i + 1, 2), nullptr, 16));
                        i += 2;
                    } else {
                        bytes += value[i];
                    }
                }
                // A section starts and ends on a character boundary.
                ASSERT_FALSE(bytes.empty());
                EXPECT_NE(static_cast<unsigned char>(bytes.front()) & 0xc0, 0x80u) << value;
                const auto last = static_cast<unsigned char>(bytes.back());
                EXPECT_TRUE(last < 0x80 || (last & 0xc0) == 0x80) << value;
                ++sections;
            }
            EXPECT_GT(sections, 1u);
        }
    }
}

TEST(Composer, HeaderValuesCannotInjectFields) {
    ComposeInput in = basic();
    in.subject = "hi\r\nBcc: victim@example.com\r\n\r\nbody";
    in.to = "a@example.com\nX-Evil: 1";
    in.extra_headers = {{"X-Note", "one\rtwo"}, {"Bad Name", "x"}, {"Content-Type", "text/evil"},
                        {"subject", "second"}, {"X-Mailer", "ringmail"}};
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_FALSE(has(m, "\r\nBcc:"));
    EXPECT_FALSE(has(m, "\r\nX-Evil:"));
    EXPECT_EQ(field(m, "X-Note"), "one two");
    EXPECT_EQ(field(m, "X-Mailer"), "ringmail");
    EXPECT_FALSE(has(m, "Bad Name"));
    EXPECT_FALSE(has(m, "text/evil"));
    EXPECT_EQ(count(m, "ubject:"), 1u);
}

TEST(Composer, LongHeadersFold) {
    ComposeInput in = basic();
    std::string to;
    for (int i = 0; i < 100; ++i) to += (i ? ", " : "") + std::string("user") + std::to_string(i) + "@example.com";
    in.to = to;
    in.subject = std::string(2000, 'x');
    in.extra_headers = {{"X-Long", std::string(1500, 'y')}};
    in.message_id = std::string(1200, 'i') + "@example.com";
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    std::string unfolded = field(m, "To");
    std::erase(unfolded, '\r');
    EXPECT_EQ(unfolded.size(), to.size());
}

TEST(Composer, IsDeterministicAndSeedsBoundaries) {
    ComposeInput in = basic();
    in.text = "t";
    in.html = "h";
    EXPECT_EQ(compose(in), compose(in));
    ComposeInput other = in;
    other.boundary_seed = "f00d";
    EXPECT_NE(field(compose(in), "Content-Type"), field(compose(other), "Content-Type"));
    EXPECT_TRUE(has(field(compose(other), "Content-Type"), "f00d"));
}

TEST(Composer, BoundaryAvoidsContent) {
    ComposeInput in = basic();
    in.text = "t";
    in.html = "h";
    const std::string first = compose(in);  // the HTML now holds the boundary picked there
    in.html = first.substr(first.find("--=_"), 20);
    const std::string m = compose(in);
    const std::string ct = field(m, "Content-Type");
    const std::string boundary = ct.substr(ct.find('"') + 1, ct.rfind('"') - ct.find('"') - 1);
    EXPECT_FALSE(has(in.html, boundary));
    EXPECT_EQ(count(m, boundary), 4u);  // the field, two delimiters, the close
}

TEST(Composer, GuessType) {
    EXPECT_EQ(guess_type("a.PNG"), "image/png");
    EXPECT_EQ(guess_type("x.tar.gz"), "application/gzip");
    EXPECT_EQ(guess_type("notes.txt"), "text/plain");
    EXPECT_EQ(guess_type("photo.jpeg"), "image/jpeg");
    EXPECT_EQ(guess_type("Makefile"), "application/octet-stream");
    EXPECT_EQ(guess_type("weird."), "application/octet-stream");
    EXPECT_EQ(guess_type("x.unknownext"), "application/octet-stream");
}

// ---- random inputs ----------------------------------------------------------------

struct Gen {
    std::mt19937 rng;
    explicit Gen(unsigned seed) : rng(seed) {}
    std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }
    bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }

    std::string bytes(std::size_t max) {
        std::string s(below(max + 1), '\0');
        for (char& c : s) c = static_cast<char>(below(256));
        return s;
    }
    // Valid UTF-8 text with long and short lines, CR/LF mixes, blanks, look-alike syntax.
    std::string text(std::size_t pieces) {
        static const char* const bits[] = {
            "word", " ", "  ", "\t", "\r\n", "\n", "\r", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "=", "=41",
            "=?utf-8?q?x?=", ".", "\r\n.\r\n", "--", "--=_rm_", "cid:", "From ", "<p>", "\x1b", "\x7f", "_", "?"};
        std::string s;
        const std::size_t n = below(pieces + 1);
        for (std::size_t i = 0; i < n; ++i) {
            if (chance(3)) s += std::string(below(1500), static_cast<char>('a' + below(26)));
            else s += bits[below(std::size(bits))];
        }
        return s;
    }
    std::string name() {
        static const char* const stems[] = {"report", "Bild", "r\xc3\xa9sum\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac",
                                            "a b", "x", "data-2025_v1", "\xd0\xbf\xd1\x80\xd0\xb8"};
        static const char* const exts[] = {".png", ".jpg", ".pdf", ".bin", ".txt", ".gif", ".zip", ""};
        std::string n = stems[below(std::size(stems))];
        if (chance(20)) n += std::to_string(below(1000));
        if (chance(5)) n += std::string(below(200), 'z');
        return n + exts[below(std::size(exts))];
    }
};

TEST(Composer, RandomInputsKeepLineInvariants) {
    Gen g(1234);
    for (int round = 0; round < 400; ++round) {
        ComposeInput in;
        in.from = g.text(6);
        in.to = g.text(6) + " <to@example.com>, " + g.text(3);
        in.cc = g.chance(50) ? g.text(8) : "";
        in.reply_to = g.chance(30) ? g.text(4) : "";
        in.sender = g.chance(30) ? g.text(4) : "";
        in.subject = g.text(12);
        in.date = g.text(3);
        in.message_id = g.text(3);
        in.boundary_seed = g.text(3);
        if (g.chance(70)) in.text = g.text(60);
        if (g.chance(60)) in.html = g.text(60);
        for (std::size_t i = g.below(4); i > 0; --i) {
            std::string n = g.chance(80) ? g.name() : g.text(4);
            if (!in.html.empty() && g.chance(50)) in.html += "<img src=\"cid:" + n + "\">";
            in.attachments[n] = g.chance(50) ? g.bytes(3000) : g.text(40);
        }
        for (std::size_t i = g.below(3); i > 0; --i) in.extra_headers.emplace_back("X-" + g.text(1), g.text(8));
        const std::string m = compose(in);
        ASSERT_TRUE(well_formed(m)) << "round " << round;
    }
}

// ---- compose → parse ----------------------------------------------------------------

// What the parser gives back for a body: CRLF line ends, ending in CRLF (as composed).
std::string as_composed(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' || s[i] == '\n') {
            if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            out += "\r\n";
        } else {
            out += s[i];
        }
    }
    if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
    return out;
}

TEST(ComposerRoundTrip, ParserGivesBackMessageAndAttachments) {
    Gen g(99);
    static const char* const subjects[] = {"Grüße", "日本語のメール", "plain ascii", "Re: €100 — ok?", "a_b=c"};
    for (int round = 0; round < 300; ++round) {
        ComposeInput in = basic();
        in.subject = subjects[g.below(std::size(subjects))];
        if (g.chance(30)) in.subject += " " + std::string(subjects[g.below(std::size(subjects))]);
        const std::size_t kind = g.below(3);  // text, HTML, both
        if (kind != 1) in.text = g.text(40) + "t";
        if (kind != 0) in.html = "<html>" + g.text(40) + "</html>";
        for (std::size_t i = g.below(4); i > 0; --i) {
            const std::string n = g.name();
            in.attachments[n] = g.bytes(2000);
            if (!in.html.empty() && g.chance(50)) in.html += "<img src=\"cid:" + n + "\">";
        }
        const std::string m = compose(in);
        ASSERT_TRUE(well_formed(m));
        const ringmail::mime::ParsedMail p = ringmail::mime::parse_message(m);
        SCOPED_TRACE("round " + std::to_string(round) + "\n" + m.substr(0, 4000));
        ASSERT_TRUE(p.subject.has_value());
        EXPECT_EQ(*p.subject, in.subject);
        EXPECT_EQ(p.message, as_composed(in.html.empty() ? in.text : in.html));
        EXPECT_EQ(p.message_is_html, !in.html.empty());
        ASSERT_EQ(p.attachments.size(), in.attachments.size());
        for (const auto& [name, data] : in.attachments) {
            const auto it = p.attachments.find(name);
            ASSERT_NE(it, p.attachments.end()) << name;
            EXPECT_EQ(it->second.data, data) << name;
        }
        // The same bytes fed in random pieces, as the server receives them.
        ringmail::mime::StreamParser sp;
        for (std::size_t at = 0; at < m.size();) {
            const std::size_t n = std::min(m.size() - at, 1 + g.below(200));
            sp.feed(std::span<const char>(m.data() + at, n));
            at += n;
        }
        const ringmail::mime::ParsedMail q = sp.finish();
        EXPECT_EQ(q.message, p.message);
        EXPECT_EQ(q.attachments.size(), p.attachments.size());
    }
}

TEST(ComposerRoundTrip, HeadersComeBackDecoded) {
    ComposeInput in = basic();
    in.text = "x";
    in.subject = "Grüße aus Köln: =?not-a-word?= " + std::string(300, 'w') + " 日本語";
    in.from = "Jörg Müller <joerg@example.de>";
    in.to = "\"Müller, Anna\" <anna@example.de>, plain@example.com, \"Bob (the) <B>\" <bob@example.com>";
    in.cc = "Équipe: a@example.fr, \"Zoë\" <z@example.fr>;";
    const std::string m = compose(in);
    const ringmail::mime::ParsedMail p = ringmail::mime::parse_message(m);
    ASSERT_TRUE(p.subject && p.from);
    EXPECT_EQ(*p.subject, in.subject);
    EXPECT_EQ(*p.from, in.from);
    const auto to = ringmail::mime::parse_address_list(field(m, "To"));
    ASSERT_EQ(to.size(), 3u) << field(m, "To");
    EXPECT_EQ(to[0].name, "Müller, Anna");
    EXPECT_EQ(to[0].address, "anna@example.de");
    EXPECT_EQ(to[1].address, "plain@example.com");
    EXPECT_EQ(to[2].name, "Bob (the) <B>");
    EXPECT_EQ(to[2].address, "bob@example.com");
    const auto cc = ringmail::mime::parse_address_list(field(m, "Cc"));
    ASSERT_EQ(cc.size(), 2u) << field(m, "Cc");
    EXPECT_EQ(cc[1].name, "Zoë");
    EXPECT_EQ(ringmail::mime::extract_addresses(field(m, "Cc")),
              (std::vector<std::string>{"a@example.fr", "z@example.fr"}));
}


// Issue 15: files with their own types, images found by the path in src, ready parts,
// charset and transfer encoding of the text, a media type of one's own, simple form.

std::string boundary_of(const std::string& content_type) {
    const std::size_t q = content_type.find('"');
    return content_type.substr(q + 1, content_type.find('"', q + 1) - q - 1);
}

TEST(ComposerFiles, ImageSrcPathBecomesCidAndRelated) {
    ComposeInput in = basic();
    in.html = "<p><img src=\"/img/logo.png\"> <IMG SRC='/img/logo.png'> <img data-src=\"/img/logo.png\">"
              " <img src=/img/logo.png> <img src=\"/img/logo.png.bak\"></p>";
    in.files.push_back({"logo.png", "\x89PNG-bytes", "", true, "/img/logo.png"});
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_TRUE(field(m, "Content-Type").starts_with("multipart/related;")) << field(m, "Content-Type");
    const ringmail::mime::ParsedMail p = ringmail::mime::parse_message(m);
    EXPECT_EQ(p.message,
              "<p><img src=\"cid:logo.png\"> <IMG SRC='cid:logo.png'> <img data-src=\"/img/logo.png\">"
              " <img src=cid:logo.png> <img src=\"/img/logo.png.bak\"></p>\r\n");
    ASSERT_EQ(p.attachments.count("logo.png"), 1u);
    EXPECT_EQ(p.attachments.at("logo.png").data, "\x89PNG-bytes");
    EXPECT_TRUE(has(m, "Content-ID: <logo.png>"));
    EXPECT_TRUE(has(m, "Content-Disposition: inline; filename=logo.png") ||
                has(m, "Content-Disposition: inline; filename=\"logo.png\""));
}

TEST(ComposerFiles, InlineImageIsRelatedEvenWhenNotReferenced) {
    ComposeInput in = basic();
    in.html = "<p>no image tag</p>";
    in.files.push_back({"a.gif", "GIF89a", "", true, "a.gif"});
    const std::string m = compose(in);
    EXPECT_TRUE(field(m, "Content-Type").starts_with("multipart/related;"));
}

TEST(ComposerFiles, AttachmentTypeGivenOrGuessed) {
    ComposeInput in = basic();
    in.text = "see attached";
    in.files.push_back({"report.bin", std::string("\x00\x01\x02", 3), "application/x-report", false, {}});
    in.files.push_back({"notes.txt", "hello\r\n", "", false, {}});
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_TRUE(field(m, "Content-Type").starts_with("multipart/mixed;"));
    EXPECT_TRUE(has(m, "Content-Type: application/x-report; name=report.bin") ||
                has(m, "Content-Type: application/x-report; name=\"report.bin\""))
        << m;
    EXPECT_TRUE(has(m, "Content-Type: text/plain; name=notes.txt") ||
                has(m, "Content-Type: text/plain; name=\"notes.txt\""));
    const ringmail::mime::ParsedMail p = ringmail::mime::parse_message(m);
    ASSERT_EQ(p.attachments.size(), 2u);
    EXPECT_EQ(p.attachments.at("report.bin").data, std::string("\x00\x01\x02", 3));
    EXPECT_EQ(p.attachments.at("notes.txt").data, "hello\r\n");
}

TEST(ComposerParts, ReadyPartGoesInUnchanged) {
    ComposeInput in = basic();
    in.text = "body";
    const std::string part = "Content-Type: text/x-custom; charset=us-ascii\r\nX-Part: 1\r\n\r\nraw =41 stays\r\n";
    in.parts.push_back(part);
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    const std::string b = boundary_of(field(m, "Content-Type"));
    EXPECT_TRUE(has(m, "--" + b + "\r\n" + part + "\r\n--" + b + "--\r\n")) << m;
}

TEST(ComposerParts, OnlyOneReadyPartIsTheBody) {
    ComposeInput in = basic();
    in.parts.push_back("Content-Type: application/json\n\n{\"a\":1}\n");
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_EQ(field(m, "Content-Type"), "application/json");
    EXPECT_EQ(body_of(m), "{\"a\":1}\r\n");
}

TEST(ComposerParts, EntityOnlyMakesAPart) {
    ComposeInput in;
    in.text = "part text";
    in.entity_only = true;
    const std::string part = compose(in);
    EXPECT_TRUE(part.starts_with("Content-Type: text/plain; charset=utf-8\r\n")) << part;
    EXPECT_FALSE(has(part, "MIME-Version"));
    EXPECT_TRUE(part.ends_with("\r\n\r\npart text\r\n"));
}

TEST(ComposerText, CharsetConvertsTheBody) {
    ComposeInput in = basic();
    in.text = "Grüße";
    in.charset = "ISO-8859-1";
    const std::string m = compose(in);
    EXPECT_EQ(field(m, "Content-Type"), "text/plain; charset=iso-8859-1");
    EXPECT_EQ(field(m, "Content-Transfer-Encoding"), "quoted-printable");
    EXPECT_EQ(body_of(m), "Gr=FC=DFe\r\n");
    const ringmail::mime::ParsedMail p = ringmail::mime::parse_message(m);
    EXPECT_EQ(p.message, "Grüße\r\n");
}

TEST(ComposerText, CharsetThatCannotHoldTheTextKeepsUtf8) {
    ComposeInput in = basic();
    in.text = "日本語";
    in.charset = "iso-8859-1";
    EXPECT_EQ(field(compose(in), "Content-Type"), "text/plain; charset=utf-8");
    in.charset = "no-such-charset";
    EXPECT_EQ(field(compose(in), "Content-Type"), "text/plain; charset=utf-8");
}

TEST(ComposerText, TransferEncodingAsAskedWhenTheTextAllows) {
    ComposeInput in = basic();
    in.text = "Grüße";
    in.transfer_encoding = "base64";
    std::string m = compose(in);
    EXPECT_EQ(field(m, "Content-Transfer-Encoding"), "base64");
    EXPECT_EQ(ringmail::mime::parse_message(m).message, "Grüße\r\n");
    in.transfer_encoding = "8BIT";
    m = compose(in);
    EXPECT_EQ(field(m, "Content-Transfer-Encoding"), "8bit");
    EXPECT_EQ(body_of(m), "Grüße\r\n");
    in.transfer_encoding = "7bit";  // 8-bit text cannot be 7bit
    EXPECT_EQ(field(compose(in), "Content-Transfer-Encoding"), "quoted-printable");
    in.text = "plain";
    in.transfer_encoding = "quoted-printable";
    EXPECT_EQ(field(compose(in), "Content-Transfer-Encoding"), "quoted-printable");
}

TEST(ComposerText, ContentTypeReplacesTheTextType) {
    ComposeInput in = basic();
    in.text = "BEGIN:VCALENDAR\nEND:VCALENDAR";
    in.content_type = "text/calendar; method=REQUEST";
    EXPECT_EQ(field(compose(in), "Content-Type"), "text/calendar; method=REQUEST; charset=utf-8");
    in.text.clear();
    in.html = "<p>x</p>";
    in.content_type = "text/html; charset=utf-8";
    EXPECT_EQ(field(compose(in), "Content-Type"), "text/html; charset=utf-8");
}

TEST(ComposerText, SimpleFormIsHeadersOnly) {
    ComposeInput in = basic();
    in.text = "not sent";
    in.headers_only = true;
    const std::string m = compose(in);
    EXPECT_TRUE(well_formed(m));
    EXPECT_TRUE(m.ends_with("\r\n\r\n"));
    EXPECT_EQ(body_of(m), "");
    EXPECT_EQ(field(m, "MIME-Version"), "<absent>");
    EXPECT_EQ(field(m, "Subject"), "Hello");
}

}  // namespace
