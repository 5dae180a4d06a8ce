// tests/mime/charset_test.cpp — declared charset to UTF-8: the built-in UTF-8, US-ASCII
// and windows-1252 paths, iconv charsets and aliases, unknown labels, U+FFFD for bad
// sequences without losing the rest, and a UTF-8 validator checked against a reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mime/charset.hpp"

namespace ringmail::mime {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

// Obviously correct validator: decode each sequence to its code point, then reject
// overlong forms, surrogates and anything past U+10FFFF.
bool reference_valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len;
        char32_t cp;
        if (c < 0x80) { len = 1; cp = c; }
        else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return false;
        if (i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) return false;
            cp = cp << 6 | (b & 0x3F);
        }
        const char32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

std::size_t code_points(std::string_view utf8) {
    std::size_t n = 0;
    for (char c : utf8) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

TEST(Charset, ValidatesUtf8) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("plain ascii text, long enough for the word loop"));
    EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    EXPECT_FALSE(is_valid_utf8("abc\xe2\x82"));       // truncated
    EXPECT_FALSE(is_valid_utf8("caf\xe9"));           // latin-1
}

TEST(Charset, ValidatorMatchesReferenceOnRandomBytes) {
    std::mt19937 rng(3629);
    static constexpr unsigned char kBytes[] = {'a', 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                               0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    for (int round = 0; round < 100000; ++round) {
        std::string s(rng() % 12, '\0');
        for (char& c : s) c = static_cast<char>(kBytes[rng() % sizeof kBytes]);
        ASSERT_EQ(is_valid_utf8(s), reference_valid_utf8(s)) << round;
    }
}

// Utf8Check sees text grow piece by piece (a body as it is decoded): whatever the pieces,
// it agrees with is_valid_utf8 on the whole, and to_utf8_moved with it gives what
// to_utf8_moved gives without it.
TEST(Charset, Utf8CheckAgreesWithTheValidatorUnderEveryGrowth) {
    std::mt19937 rng(2279);
    static constexpr unsigned char kBytes[] = {'a', ' ', 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                               0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    const std::string_view kValid[] = {"caf\xc3\xa9 ", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "plain ascii text 0123456789"};
    for (int round = 0; round < 20000; ++round) {
        std::string s;
        const int tokens = static_cast<int>(rng() % 12);
        for (int t = 0; t < tokens; ++t) {
            if (rng() % 3 == 0) s += static_cast<char>(kBytes[rng() % sizeof kBytes]);
            else s += kValid[rng() % 4];
        }
        Utf8Check check;
        std::size_t at = 0;
        while (at < s.size()) {  // grow by 0..5 bytes at a time, checking as we go
            at = std::min(s.size(), at + rng() % 6);
            check.update(std::string_view(s).substr(0, at));
        }
        check.update(s);
        const bool valid = is_valid_utf8(s);
        ASSERT_EQ(check.valid(s), valid) << round;
        ASSERT_EQ(check.ascii(s), valid && std::all_of(s.begin(), s.end(), [](char c) {
                                      return static_cast<unsigned char>(c) < 0x80;
                                  })) << round;
        for (const char* cs : {"utf-8", "us-ascii", "iso-8859-1", "koi8-r", "utf-16le", ""}) {
            std::string a = s, b = s;
            ASSERT_EQ(to_utf8_moved(std::move(a), cs, check), to_utf8_moved(std::move(b), cs)) << round << cs;
        }
    }
}

TEST(Charset, Utf8CheckWaitsOnASequenceCutAtTheEnd) {
    const std::string s = "ab\xe2\x82\xac";
    Utf8Check check;
    check.update(std::string_view(s).substr(0, 3));  // "ab" and the lead byte: undecided
    EXPECT_FALSE(check.valid(std::string_view(s).substr(0, 3)));
    check.update(std::string_view(s).substr(0, 4));
    check.update(s);
    EXPECT_TRUE(check.valid(s));
    EXPECT_FALSE(check.ascii(s));
    Utf8Check unseen;  // never told of the text: known as nothing, so it is checked again
    std::string t = "caf\xe9";
    EXPECT_EQ(to_utf8_moved(std::move(t), "utf-8", unseen), "caf" + kFffd);
    Utf8Check bad;  // a bad byte stays bad whatever follows
    bad.update("\xff");
    EXPECT_FALSE(bad.valid("\xff"));
    bad.update("\xff" "abc");
    EXPECT_FALSE(bad.valid("\xff" "abc"));
}

TEST(Charset, Utf8IsKeptAndBadSequencesBecomeReplacementCharacters) {
    EXPECT_EQ(to_utf8("caf\xc3\xa9", "utf-8"), "caf\xc3\xa9");
    EXPECT_EQ(to_utf8("a\xff" "b", "UTF-8"), "a" + kFffd + "b");
    // One U+FFFD per maximal ill-formed subpart; the rest is kept.
    EXPECT_EQ(to_utf8("a\xe2\x82z\xc3", "utf8"), "a" + kFffd + "z" + kFffd);
}

TEST(Charset, Latin1AndWindows1252) {
    EXPECT_EQ(to_utf8("caf\xe9", "iso-8859-1"), "caf\xc3\xa9");
    EXPECT_EQ(to_utf8("caf\xe9", "latin1"), "caf\xc3\xa9");
    EXPECT_EQ(to_utf8("\x93hi\x94 \x80", "windows-1252"), "\xe2\x80\x9chi\xe2\x80\x9d \xe2\x82\xac");
    // Labelled ISO-8859-1, 0x80..0x9F are windows-1252 (WHATWG Encoding Standard).
    EXPECT_EQ(to_utf8("\x80", "ISO-8859-1"), "\xe2\x82\xac");
    // windows-1252's holes are kept as the C1 control of the same value.
    EXPECT_EQ(to_utf8("\x81", "cp1252"), "\xc2\x81");
}

TEST(Charset, UsAsciiWithEightBitBytes) {
    EXPECT_EQ(to_utf8("plain", "us-ascii"), "plain");
    EXPECT_EQ(to_utf8("caf\xc3\xa9", "us-ascii"), "caf\xc3\xa9");  // really UTF-8
    EXPECT_EQ(to_utf8("caf\xe9", "US-ASCII"), "caf\xc3\xa9");      // really windows-1252
    EXPECT_EQ(to_utf8("caf\xe9", ""), "caf\xc3\xa9");
}

TEST(Charset, UnknownCharsetKeepsUtf8ElseWindows1252) {
    EXPECT_EQ(to_utf8("caf\xc3\xa9", "x-no-such-charset"), "caf\xc3\xa9");
    EXPECT_EQ(to_utf8("caf\xe9", "x-no-such-charset"), "caf\xc3\xa9");
    EXPECT_EQ(to_utf8("caf\xe9", "utf-8//IGNORE"), "caf\xc3\xa9");  // not passed to iconv
}

TEST(Charset, IconvCharsetsAndAliases) {
    EXPECT_EQ(to_utf8("\xa4", "iso-8859-15"), "\xe2\x82\xac");
    EXPECT_EQ(to_utf8("\xc1", "KOI8-R"), "\xd0\xb0");
    EXPECT_EQ(to_utf8("\x82\xa0", "shift_jis"), "\xe3\x81\x82");
    EXPECT_EQ(to_utf8("\xc4\xe3\xba\xc3", "gb2312"), "\xe4\xbd\xa0\xe5\xa5\xbd");
    EXPECT_EQ(to_utf8("\xa4\xa4", "big5"), "\xe4\xb8\xad");
    EXPECT_EQ(to_utf8("\xb0\xa1", "ks_c_5601-1987"), "\xea\xb0\x80");
    EXPECT_EQ(to_utf8(std::string_view("h\0i\0", 4), "utf-16le"), "hi");
    EXPECT_EQ(to_utf8("Hi Mom -+Jjo--!", "utf-7"), "Hi Mom -\xe2\x98\xba-!");          // RFC 2152
    EXPECT_EQ(to_utf8("Hi Mom -+Jjo--!", "unicode-1-1-utf-7"), "Hi Mom -\xe2\x98\xba-!");
    EXPECT_EQ(to_utf8("\x1b$B$\"\x1b(B", "iso-2022-jp"), "\xe3\x81\x82");  // 7-bit, still converted
    EXPECT_EQ(to_utf8("\xe9", " \"ISO-8859-2\" "), "\xc3\xa9");
}

TEST(Charset, InvalidSequencesInIconvCharsetsDoNotLoseTheRest) {
    EXPECT_EQ(to_utf8("\x82\xa0\xff\x82\xa0", "shift_jis"), "\xe3\x81\x82" + kFffd + "\xe3\x81\x82");
    EXPECT_EQ(to_utf8("\x82\xa0\x82", "shift_jis"), "\xe3\x81\x82" + kFffd);  // truncated at the end
}

// After an invalid sequence the converter starts again from its initial state: UTF-7 is
// stateful, and "+2D3-" (a lone high surrogate) left it inside a base64 run, so the valid
// text after it came out as U+FFFD and garbage.
TEST(Charset, InvalidSequenceInUtf7DoesNotSpoilTheRest) {
    for (const std::string tail : {" valid tail", "-valid tail", " Hi Mom -+Jjo--!"}) {
        const std::string out = to_utf8("x +2D3-" + tail, "utf-7");
        const std::string want_tail = tail == " Hi Mom -+Jjo--!" ? " Hi Mom -\xe2\x98\xba-!" : tail.substr(1);
        EXPECT_TRUE(is_valid_utf8(out)) << tail;
        EXPECT_EQ(out.substr(0, 2 + kFffd.size()), "x " + kFffd) << tail;
        ASSERT_GE(out.size(), want_tail.size()) << tail;
        EXPECT_EQ(out.substr(out.size() - want_tail.size()), want_tail) << out;
    }
    // A base64 run cut short by an invalid byte: what it held so far, U+FFFD, the rest.
    const std::string out = to_utf8("+ZeVnLIqe\x80 and then plain text", "utf-7");
    EXPECT_EQ(out.substr(0, 9), "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    EXPECT_NE(out.find(kFffd), std::string::npos);
    EXPECT_EQ(out.substr(out.size() - 20), " and then plain text") << out;
}

TEST(Charset, Ucs4BeyondUnicodeBecomesReplacementNotLongSequences) {
    // glibc's iconv writes code points past U+10FFFF as 5/6-byte "UTF-8" (fuzz finding).
    const std::string out = to_utf8(std::string("\x00\x00\x00\x41\xff\xff\xff\xff", 8), "ucs-4");
    EXPECT_TRUE(is_valid_utf8(out));
    EXPECT_EQ(out.substr(0, 1), "A");
}

TEST(Charset, AlwaysValidUtf8AndNothingLost) {
    std::mt19937 rng(1252);
    for (int round = 0; round < 2000; ++round) {
        std::string s(rng() % 64, '\0');
        for (char& c : s) c = static_cast<char>(rng() & 0xFF);
        for (const char* cs : {"utf-8", "us-ascii", "windows-1252", "shift_jis", "utf-16", "koi8-r",
                               "iso-2022-jp", "gb2312", "x-unknown-thing"}) {
            const std::string out = to_utf8(s, cs);
            ASSERT_TRUE(is_valid_utf8(out)) << cs << " round " << round;
        }
        EXPECT_EQ(code_points(to_utf8(s, "windows-1252")), s.size());
        EXPECT_EQ(code_points(to_utf8(s, "koi8-r")), s.size());
        EXPECT_EQ(utf8_or_latin1(s), is_valid_utf8(s) ? s : to_utf8(s, "windows-1252"));
    }
}

// Runs `f` on a new thread, whose converter cache and open count start empty.
template <class F>
void on_fresh_thread(F&& f) {
    std::thread t(std::forward<F>(f));
    t.join();
}

// Labels converted through iconv, with text that is not ASCII in each.
const std::vector<std::pair<std::string, std::string>> kIconvSamples = {
    {"koi8-r", "\xc1"},          {"iso-8859-15", "\xa4"},     {"windows-1251", "\xe0"},
    {"shift_jis", "\x82\xa0"},    {"iso-2022-jp", "\x1b$B$\"\x1b(B"}, {"gb2312", "\xc4\xe3"},
    {"big5", "\xa4\xa4"},         {"euc-kr", "\xb0\xa1"},       {"utf-7", "+Jjo-"},
    {"utf-16", std::string("\xff\xfeh\0", 4)}, {"iso-8859-2", "\xe9"}};

// iconv_open may read gconv modules from disk: a converter is opened once per thread and
// charset, then reused (reset before each use).
TEST(Charset, ConvertersAreOpenedOncePerThreadAndReused) {
    on_fresh_thread([] {
        const std::size_t before = charset_converters_opened();
        EXPECT_EQ(to_utf8("\xc1", "koi8-r"), "\xd0\xb0");
        EXPECT_EQ(to_utf8("\xc1\xc2", "KOI8-R"), "\xd0\xb0\xd0\xb1");
        EXPECT_EQ(charset_converters_opened(), before + 1);
        // A converter left in a shift state by one text starts the next one afresh.
        EXPECT_EQ(to_utf8("+Jjo", "utf-7"), "\xe2\x98\xba");
        EXPECT_EQ(to_utf8("AB+Jjo-", "utf-7"), "AB\xe2\x98\xba");
        EXPECT_EQ(charset_converters_opened(), before + 2);
        // Aliases of one charset share its converter.
        EXPECT_EQ(to_utf8("\xb0\xa1", "ks_c_5601-1987"), "\xea\xb0\x80");
        EXPECT_EQ(to_utf8("\xb0\xa1", "euc-kr"), "\xea\xb0\x80");
        EXPECT_EQ(charset_converters_opened(), before + 3);
        // Unknown labels are remembered too.
        EXPECT_EQ(to_utf8("caf\xe9", "x-no-such-charset"), "caf\xc3\xa9");
        EXPECT_EQ(to_utf8("caf\xe9", "x-no-such-charset"), "caf\xc3\xa9");
        EXPECT_EQ(charset_converters_opened(), before + 4);
        // Every converter in use at once is kept: none is closed and opened again.
        for (int round = 0; round < 3; ++round)
            for (const auto& [cs, text] : kIconvSamples) EXPECT_TRUE(is_valid_utf8(to_utf8(text, cs))) << cs;
        EXPECT_EQ(charset_converters_opened(), before + 4 + kIconvSamples.size() - 3);
    });
}

// warm_up_charsets opens the common converters, so that mail in them opens nothing; more
// charsets than the cache holds never push the warmed ones out.
TEST(Charset, WarmUpOpensTheCommonConvertersAndTheyStay) {
    on_fresh_thread([] {
        warm_up_charsets();
        const std::size_t warmed = charset_converters_opened();
        EXPECT_GE(warmed, 10u);
        for (const auto& [cs, text] : kIconvSamples) EXPECT_TRUE(is_valid_utf8(to_utf8(text, cs))) << cs;
        EXPECT_EQ(to_utf8("caf\xe9", "iso-8859-1"), "caf\xc3\xa9");  // done without iconv
        EXPECT_EQ(charset_converters_opened(), warmed);
        for (int i = 0; i < 100; ++i) to_utf8("\xe9", "x-unknown-" + std::to_string(i));
        const std::size_t after_flood = charset_converters_opened();
        EXPECT_EQ(after_flood, warmed + 100);
        for (const auto& [cs, text] : kIconvSamples) EXPECT_TRUE(is_valid_utf8(to_utf8(text, cs))) << cs;
        EXPECT_EQ(charset_converters_opened(), after_flood);
        warm_up_charsets();  // again: nothing new to open
        EXPECT_EQ(charset_converters_opened(), after_flood);
    });
}

}  // namespace
}  // namespace ringmail::mime
