// tests/mime/base64_test.cpp — base64 (RFC 2045 6.8, RFC 4648): the streaming decoder
// against a byte-at-a-time reference on random input under every split, the encoder
// against a bit-at-a-time reference, round trips, RFC 4648 vectors, tolerance rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "mime/base64.hpp"
#include "tests/proto/split.hpp"

namespace ringmail::mime {
namespace {

using test::for_each_split;
using test::Pieces;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Obviously correct decoder: one character at a time, alphabet by search.
std::string reference_decode(std::string_view in) {
    std::string out;
    unsigned acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        const auto v = kAlphabet.find(c);
        if (v == std::string_view::npos) continue;
        acc = acc << 6 | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>(acc >> bits & 0xFF));
        }
    }
    return out;  // 1..6 leftover bits never make a byte
}

// Obviously correct encoder: bit by bit, then padding, then lines of `line` characters.
std::string reference_encode(std::string_view in, std::size_t line) {
    std::string flat;
    unsigned acc = 0;
    int bits = 0;
    for (char c : in) {
        acc = acc << 8 | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            flat.push_back(kAlphabet[acc >> bits & 63]);
        }
    }
    if (bits) flat.push_back(kAlphabet[acc << (6 - bits) & 63]);
    while (flat.size() % 4) flat.push_back('=');
    if (line == 0) return flat;
    std::string out;
    for (std::size_t i = 0; i < flat.size(); i += line) {
        if (i) out += "\r\n";
        out += flat.substr(i, line);
    }
    return out;
}

std::string decode_pieces(const Pieces& pieces, bool* errors = nullptr) {
    Base64Decoder d;
    std::string out;
    for (auto p : pieces) {
        // Each piece in an allocation of its exact size: a read past it trips ASan.
        const auto exact = std::make_unique<char[]>(p.size());
        std::copy(p.begin(), p.end(), exact.get());
        d.feed(std::string_view(exact.get(), p.size()), out);
    }
    d.finish(out);
    if (errors) *errors = d.had_errors();
    return out;
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    return s;
}

// Base64-looking noise: mostly alphabet, with line ends, spaces, junk and padding.
std::string random_noise(std::mt19937& rng, std::size_t n) {
    static constexpr std::string_view kExtra = std::string_view("\r\n \t-*!\x80\xff\x00=", 11);
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned r = rng() % 100;
        if (r < 90) s.push_back(kAlphabet[rng() % 64]);
        else if (r < 99 || n < 8) s.push_back(kExtra[rng() % (kExtra.size() - 1)]);
        else s.push_back('=');
    }
    return s;
}

// Random bytes encoded as mail has them: a random line width, CRLF or LF.
std::string random_wrapped(std::mt19937& rng, std::size_t n) {
    const std::string flat = reference_encode(random_bytes(rng, n), 0);
    const std::size_t width = 4 + rng() % 80;
    const char* eol = rng() % 4 ? "\r\n" : "\n";
    std::string s;
    for (std::size_t i = 0; i < flat.size(); i += width) s += flat.substr(i, width) + eol;
    return s;
}

TEST(Base64, Rfc4648Vectors) {
    const std::pair<std::string_view, std::string_view> vectors[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (auto [plain, coded] : vectors) {
        EXPECT_EQ(base64_encode(plain), coded);
        for_each_split(coded, [&](const Pieces& p) { EXPECT_EQ(decode_pieces(p), plain); });
    }
}

TEST(Base64, SkipsLineBreaksAndWhitespaceWithoutError) {
    for_each_split("Zm9v\r\nYm\t Fy\n", [](const Pieces& p) {
        bool errors = true;
        EXPECT_EQ(decode_pieces(p, &errors), "foobar");
        EXPECT_FALSE(errors);
    });
}

TEST(Base64, SkipsBytesOutsideTheAlphabetAndNotesThem) {
    for_each_split("Zm9v!Ym\x80" "Fy", [](const Pieces& p) {
        bool errors = false;
        EXPECT_EQ(decode_pieces(p, &errors), "foobar");
        EXPECT_TRUE(errors);
    });
}

TEST(Base64, StopsAtPadding) {
    for_each_split("Zg==Zm9v", [](const Pieces& p) { EXPECT_EQ(decode_pieces(p), "f"); });
    for_each_split("Zm8=\r\nZm9v\r\n", [](const Pieces& p) { EXPECT_EQ(decode_pieces(p), "fo"); });
}

TEST(Base64, MissingPaddingStillYieldsTheLastBytes) {
    for_each_split("Zm9vYg", [](const Pieces& p) { EXPECT_EQ(decode_pieces(p), "foob"); });
    for_each_split("Zm9vYmE", [](const Pieces& p) { EXPECT_EQ(decode_pieces(p), "fooba"); });
}

TEST(Base64, LoneTrailingSextetIsDroppedAsAnError) {
    bool errors = false;
    EXPECT_EQ(decode_pieces({"Zm9vY"}, &errors), "foo");
    EXPECT_TRUE(errors);
}

TEST(Base64, FinishResetsForANewStream) {
    Base64Decoder d;
    std::string out;
    d.feed("Zg==", out);
    d.finish(out);
    d.feed("Zm8", out);
    d.finish(out);
    EXPECT_EQ(out, "ffo");
}

TEST(Base64, FreshOutputPerFeedConcatenates) {
    std::mt19937 rng(7);
    const std::string in = random_wrapped(rng, 5000);
    Base64Decoder d;
    std::string all;
    for (std::size_t i = 0; i < in.size(); i += 13) {
        std::string part;
        d.feed(std::string_view(in).substr(i, 13), part);
        all += part;
    }
    d.finish(all);
    EXPECT_EQ(all, reference_decode(in));
}

TEST(Base64, MatchesReferenceOnRandomNoiseUnderEverySplit) {
    std::mt19937 rng(2045);
    for (int round = 0; round < 200; ++round) {
        const std::string in = random_noise(rng, rng() % 200);
        const std::string want = reference_decode(in);
        for_each_split(in, [&](const Pieces& p) { ASSERT_EQ(decode_pieces(p), want) << round; });
    }
}

TEST(Base64, MatchesReferenceOnWrappedInputUnderEverySplit) {
    std::mt19937 rng(4648);
    for (int round = 0; round < 100; ++round) {
        const std::string in = random_wrapped(rng, rng() % 300);
        const std::string want = reference_decode(in);
        for_each_split(in, [&](const Pieces& p) { ASSERT_EQ(decode_pieces(p), want) << round; });
    }
}

TEST(Base64, MatchesReferenceOnLargeInputs) {
    std::mt19937 rng(76);
    for (int round = 0; round < 20; ++round) {
        std::string in = round % 2 ? random_wrapped(rng, 100000 + rng() % 1000)
                                   : random_noise(rng, 100000);
        // A stray junk byte somewhere in the middle of a clean run.
        if (round % 4 == 1) in[rng() % in.size()] = '*';
        const std::string want = reference_decode(in);
        for_each_split(in, [&](const Pieces& p) { ASSERT_EQ(decode_pieces(p), want) << round; }, 0);
    }
}

TEST(Base64, EncoderMatchesReference) {
    std::mt19937 rng(1);
    for (std::size_t line : {std::size_t{76}, std::size_t{0}, std::size_t{4}, std::size_t{10}, std::size_t{64}}) {
        for (std::size_t n = 0; n < 300; ++n) {
            const std::string in = random_bytes(rng, n);
            ASSERT_EQ(base64_encode(in, line), reference_encode(in, line)) << n << " line " << line;
        }
    }
    const std::string big = random_bytes(rng, 200000);
    EXPECT_EQ(base64_encode(big), reference_encode(big, 76));
}

TEST(Base64, EncoderWrapsAt76WithCrlfOnly) {
    std::mt19937 rng(3);
    const std::string out = base64_encode(random_bytes(rng, 10000));
    std::size_t col = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '\r') {
            ASSERT_EQ(out[i + 1], '\n');
            EXPECT_EQ(col, 76u);
            col = 0;
            ++i;
        } else {
            ASSERT_NE(out[i], '\n');
            ++col;
        }
    }
    EXPECT_LE(col, 76u);
    EXPECT_NE(out.back(), '\n');
}

TEST(Base64, RoundTripsRandomBinary) {
    std::mt19937 rng(99);
    for (int round = 0; round < 500; ++round) {
        const std::string in = random_bytes(rng, rng() % (round < 400 ? 200 : 70000));
        const std::size_t line = round % 3 == 0 ? 0 : 76;
        ASSERT_EQ(base64_decode(base64_encode(in, line)), in) << round;
    }
}

}  // namespace
}  // namespace ringmail::mime
