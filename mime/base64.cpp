// mime/base64.cpp — base64 decoding and encoding (RFC 2045 6.8, RFC 4648 4).
// Decoding runs fast paths only on whole quanta at a quantum boundary (32 chars with AVX2,
// 4 with pre-shifted tables) and hands every other byte to a one-byte state machine, so
// any split of the input gives the same bytes; no load ever reaches past the input's end.
#include "mime/base64.hpp"

#include <array>
#include <cstddef>

// -DRINGMAIL_NO_SIMD builds the portable path alone (to test it on an AVX2 machine).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(RINGMAIL_NO_SIMD)
#define RINGMAIL_BASE64_AVX2 1
#include <immintrin.h>
#endif

namespace ringmail::mime {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// One entry per byte: a sextet 0..63, or one of these classes.
constexpr unsigned char kSpace = 0x40;  // CR, LF, SP, HT, VT, FF: line structure, no error
constexpr unsigned char kPad = 0x41;    // '=': end of data (RFC 2045 6.8)
constexpr unsigned char kBad = 0x80;    // outside the alphabet: skipped (RFC 2045 6.8), noted

constexpr std::array<unsigned char, 256> make_classes() {
    std::array<unsigned char, 256> t{};
    for (auto& v : t) v = kBad;
    for (unsigned i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<unsigned char>(i);
    for (unsigned char c : {'\r', '\n', ' ', '\t', '\v', '\f'}) t[c] = kSpace;
    t['='] = kPad;
    return t;
}
constexpr auto kClass = make_classes();

// Pre-shifted sextets for position 0..3 of a quantum; anything not in the alphabet has
// bit 24 set, so OR-ing four lookups yields the 24 data bits or a value >= 1 << 24.
using ShiftTables = std::array<std::array<std::uint32_t, 256>, 4>;
constexpr ShiftTables make_shift_tables() {
    ShiftTables t{};
    for (unsigned pos = 0; pos < 4; ++pos)
        for (unsigned c = 0; c < 256; ++c)
            t[pos][c] = kClass[c] < 64 ? std::uint32_t{kClass[c]} << (18 - 6 * pos) : 1u << 24;
    return t;
}
constexpr ShiftTables kShift = make_shift_tables();

inline unsigned char u8(char c) noexcept { return static_cast<unsigned char>(c); }

inline void put3(unsigned char* o, std::uint32_t v) noexcept {
    o[0] = static_cast<unsigned char>(v >> 16);
    o[1] = static_cast<unsigned char>(v >> 8);
    o[2] = static_cast<unsigned char>(v);
}

// Whole quanta of alphabet characters, two per round; stops before the first quantum
// that holds anything else (CR LF of a wrapped line, padding, junk).
const char* decode_quanta(const char* p, const char* end, unsigned char*& o) noexcept {
    while (end - p >= 8) {
        const std::uint32_t a = kShift[0][u8(p[0])] | kShift[1][u8(p[1])] |
                                kShift[2][u8(p[2])] | kShift[3][u8(p[3])];
        const std::uint32_t b = kShift[0][u8(p[4])] | kShift[1][u8(p[5])] |
                                kShift[2][u8(p[6])] | kShift[3][u8(p[7])];
        if ((a | b) >> 24) break;
        put3(o, a);
        put3(o + 3, b);
        p += 8;
        o += 6;
    }
    while (end - p >= 4) {
        const std::uint32_t a = kShift[0][u8(p[0])] | kShift[1][u8(p[1])] |
                                kShift[2][u8(p[2])] | kShift[3][u8(p[3])];
        if (a >> 24) break;
        put3(o, a);
        p += 4;
        o += 3;
    }
    return p;
}

#ifdef RINGMAIL_BASE64_AVX2
// 32 characters to 24 bytes per round (W. Muła and D. Lemire, "Faster Base64 Encoding and
// Decoding using AVX2 Instructions", 2018): nibble lookups validate and translate, two
// multiply-adds pack the sextets. Stops before the first block holding a non-alphabet
// byte. Stores 32 bytes per 24 produced: the caller leaves 8 bytes of slack.
__attribute__((target("avx2"))) const char* decode_avx2(const char* p, const char* end,
                                                        unsigned char*& o) noexcept {
    const __m256i lut_lo = _mm256_setr_epi8(
        0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A,
        0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
    const __m256i lut_hi = _mm256_setr_epi8(
        0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
        0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
    const __m256i lut_roll = _mm256_setr_epi8(
        0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i mask_2f = _mm256_set1_epi8(0x2f);
    const __m256i pack_shuffle = _mm256_setr_epi8(
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i pack_lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    while (end - p >= 32) {
        __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        const __m256i hi_nib = _mm256_and_si256(_mm256_srli_epi32(s, 4), mask_2f);
        const __m256i lo_nib = _mm256_and_si256(s, mask_2f);
        const __m256i lo = _mm256_shuffle_epi8(lut_lo, lo_nib);
        const __m256i hi = _mm256_shuffle_epi8(lut_hi, hi_nib);
        if (!_mm256_testz_si256(lo, hi)) break;
        const __m256i eq_2f = _mm256_cmpeq_epi8(s, mask_2f);
        s = _mm256_add_epi8(s, _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(eq_2f, hi_nib)));
        __m256i m = _mm256_maddubs_epi16(s, _mm256_set1_epi32(0x01400140));
        m = _mm256_madd_epi16(m, _mm256_set1_epi32(0x00011000));
        m = _mm256_shuffle_epi8(m, pack_shuffle);
        m = _mm256_permutevar8x32_epi32(m, pack_lanes);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), m);
        p += 32;
        o += 24;
    }
    return p;
}

bool cpu_has_avx2() noexcept {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
    }();
    return has;
}
#endif

// Input handled per call of decode(): bounds the zero-filled tail of `out` to what stays
// in cache while it is written.
constexpr std::size_t kChunk = 64 * 1024;
// Output slack past the decoded bytes: a partial quantum's flush and the AVX2 store.
constexpr std::size_t kSlack = 48;

}  // namespace

std::size_t Base64Decoder::decode(const char* p, const char* end, unsigned char* o) noexcept {
    unsigned char* const start = o;
#ifdef RINGMAIL_BASE64_AVX2
    const bool avx2 = cpu_has_avx2();
#endif
    std::uint32_t acc = acc_;
    int bits = bits_;
    while (p < end) {
        if (bits == 0 && kClass[u8(*p)] < 64) {
#ifdef RINGMAIL_BASE64_AVX2
            if (avx2) p = decode_avx2(p, end, o);
#endif
            p = decode_quanta(p, end, o);
            if (p == end) break;
        }
        const unsigned char c = kClass[u8(*p++)];
        if (c < 64) {
            acc = acc << 6 | c;
            bits += 6;
            if (bits == 24) {
                put3(o, acc);
                o += 3;
                acc = 0;
                bits = 0;
            }
        } else if (c == kPad) {
            // RFC 2045 6.8: "=" ends the data; 2 or 3 sextets before it carry 1 or 2 bytes.
            if (bits == 12) *o++ = static_cast<unsigned char>(acc >> 4);
            if (bits == 18) {
                *o++ = static_cast<unsigned char>(acc >> 10);
                *o++ = static_cast<unsigned char>(acc >> 2);
            }
            if (bits == 6) errors_ = true;
            acc = 0;
            bits = 0;
            done_ = true;
            break;
        } else if (c == kBad) {
            errors_ = true;
        }
    }
    acc_ = acc;
    bits_ = bits;
    return static_cast<std::size_t>(o - start);
}

void Base64Decoder::feed(std::string_view in, std::string& out) {
    if (done_ || in.empty()) return;
    out.reserve(out.size() + in.size() / 4 * 3 + kSlack);
    const char* p = in.data();
    const char* const end = p + in.size();
    while (p < end && !done_) {
        const char* const e = static_cast<std::size_t>(end - p) > kChunk ? p + kChunk : end;
        const std::size_t at = out.size();
        // At most (carried 3 sextets + n) / 4 quanta plus a flushed partial quantum.
        out.resize(at + static_cast<std::size_t>(e - p) / 4 * 3 + kSlack);
        const std::size_t n = decode(p, e, reinterpret_cast<unsigned char*>(out.data() + at));
        out.resize(at + n);
        p = e;
    }
}

void Base64Decoder::finish(std::string& out) {
    if (!done_) {
        if (bits_ == 12) out.push_back(static_cast<char>(acc_ >> 4));
        if (bits_ == 18) {
            out.push_back(static_cast<char>(acc_ >> 10));
            out.push_back(static_cast<char>(acc_ >> 2));
        }
        if (bits_ == 6) errors_ = true;
    }
    acc_ = 0;
    bits_ = 0;
    done_ = false;
}

std::string base64_decode(std::string_view in) {
    Base64Decoder d;
    std::string out;
    d.feed(in, out);
    d.finish(out);
    return out;
}

namespace {

// Two output characters per 12 input bits.
using PairTable = std::array<std::array<char, 2>, 4096>;
constexpr PairTable make_pairs() {
    PairTable t{};
    for (unsigned v = 0; v < 4096; ++v) t[v] = {kAlphabet[v >> 6], kAlphabet[v & 63]};
    return t;
}
constexpr PairTable kPairs = make_pairs();

inline char* encode3(char* o, const unsigned char* s) noexcept {
    const std::uint32_t v = std::uint32_t{s[0]} << 16 | std::uint32_t{s[1]} << 8 | s[2];
    o[0] = kPairs[v >> 12][0];
    o[1] = kPairs[v >> 12][1];
    o[2] = kPairs[v & 0xfff][0];
    o[3] = kPairs[v & 0xfff][1];
    return o + 4;
}

// The unwrapped encoding of `in` into `o`, which has room for (n + 2) / 3 * 4 chars.
void encode_flat(const unsigned char* s, std::size_t n, char* o) noexcept {
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) o = encode3(o, s + i);
    if (n - i == 1) {
        o[0] = kAlphabet[s[i] >> 2];
        o[1] = kAlphabet[(s[i] & 3) << 4];
        o[2] = o[3] = '=';
    } else if (n - i == 2) {
        o[0] = kAlphabet[s[i] >> 2];
        o[1] = kAlphabet[(s[i] & 3) << 4 | s[i + 1] >> 4];
        o[2] = kAlphabet[(s[i + 1] & 15) << 2];
        o[3] = '=';
    }
}

}  // namespace

std::string base64_encode(std::string_view in, std::size_t line) {
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    const std::size_t chars = (in.size() + 2) / 3 * 4;
    if (line == 0 || chars <= line) {
        std::string out(chars, '\0');
        encode_flat(s, in.size(), out.data());
        return out;
    }
    const std::size_t breaks = (chars - 1) / line;
    std::string out(chars + 2 * breaks, '\0');
    char* o = out.data();
    if (line % 4 == 0) {
        // Whole quanta per line: encode each line's input bytes straight into place.
        const std::size_t per_line = line / 4 * 3;
        std::size_t i = 0;
        for (; in.size() - i > per_line; i += per_line) {
            encode_flat(s + i, per_line, o);
            o += line;
            *o++ = '\r';
            *o++ = '\n';
        }
        encode_flat(s + i, in.size() - i, o);
        return out;
    }
    std::string flat(chars, '\0');
    encode_flat(s, in.size(), flat.data());
    for (std::size_t i = 0; i < chars; i += line) {
        if (i) {
            *o++ = '\r';
            *o++ = '\n';
        }
        const std::size_t n = chars - i < line ? chars - i : line;
        flat.copy(o, n, i);
        o += n;
    }
    return out;
}

}  // namespace ringmail::mime
