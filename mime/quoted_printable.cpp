// mime/quoted_printable.cpp — quoted-printable decoding and encoding (RFC 2045 6.7).
// The decoder is one byte-at-a-time state machine (step); decode() only copies the runs
// that step() would copy anyway (up to the next '=' or LF, less trailing spaces and CRs)
// and takes whole "=XY" escapes, CRLF soft breaks and plain line ends inline, so any split
// of the input gives the same bytes and step() is left with the rare cases.
#include "base/ascii.hpp"
#include "mime/quoted_printable.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__) && !defined(RINGMAIL_NO_SIMD)
#include <emmintrin.h>
#endif

namespace ringmail::mime {
namespace {

inline bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr std::array<signed char, 256> make_hex() {
    std::array<signed char, 256> t{};
    for (auto& v : t) v = -1;
    for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<signed char>(i);
    for (int i = 0; i < 6; ++i) {
        t['A' + i] = static_cast<signed char>(10 + i);
        t['a' + i] = static_cast<signed char>(10 + i);  // RFC 2045 6.7 (1): be robust
    }
    return t;
}
constexpr auto kHex = make_hex();

inline int hex(char c) noexcept { return kHex[static_cast<unsigned char>(c)]; }

// Input per decode() call: bounds the zero-filled tail of `out` to what stays in cache.
constexpr std::size_t kChunk = 64 * 1024;

}  // namespace

char* QpDecoder::step(char c, char* o) {
    for (;;) {
        switch (state_) {
        case State::Text:
            if (c == '=' || is_space(c) || c == '\r') {
                hold_.assign(1, c);
                state_ = c == '=' ? State::Eq : c == '\r' ? State::Cr : State::Space;
            } else {
                *o++ = c;  // LF included: a bare LF line end is kept as it came
            }
            return o;
        case State::Space:
        case State::EqSpace: {
            const std::size_t spaces = hold_.size() - (state_ == State::EqSpace ? 1 : 0);
            if (is_space(c) && spaces == kQpMaxTrailingSpace) {
                o = std::copy(hold_.begin(), hold_.end(), o);  // too long to be padding
                hold_.clear();
                *o++ = c;
                state_ = State::LongSpace;
                return o;
            }
            if (is_space(c) || c == '\r') {
                hold_.push_back(c);
                if (c == '\r') state_ = state_ == State::Space ? State::Cr : State::EqCr;
                return o;
            }
            if (c == '\n') {  // trailing spaces dropped; "=" + spaces + LF is a soft break
                if (state_ == State::Space) *o++ = '\n';
                hold_.clear();
                state_ = State::Text;
                return o;
            }
            break;  // a malformed "= x", or spaces inside a line: literal
        }
        case State::LongSpace:
            if (is_space(c)) {
                *o++ = c;
                return o;
            }
            state_ = State::Text;
            continue;
        case State::Cr:
        case State::EqCr:
            if (c == '\n') {  // trailing spaces dropped; "=" [spaces] CRLF is a soft break
                if (state_ == State::Cr) {
                    *o++ = '\r';
                    *o++ = '\n';
                }
                hold_.clear();
                state_ = State::Text;
                return o;
            }
            break;  // a bare CR is data
        case State::Eq:
            if (hex(c) >= 0 || is_space(c) || c == '\r') {
                hold_.push_back(c);
                state_ = hex(c) >= 0 ? State::EqHex : is_space(c) ? State::EqSpace : State::EqCr;
                return o;
            }
            if (c == '\n') {  // soft line break with a bare LF
                hold_.clear();
                state_ = State::Text;
                return o;
            }
            break;
        case State::EqHex:
            if (hex(c) >= 0) {
                *o++ = static_cast<char>(hex(hold_[1]) << 4 | hex(c));
                hold_.clear();
                state_ = State::Text;
                return o;
            }
            break;
        }
        // What is held turned out to be literal text; `c` starts afresh.
        o = std::copy(hold_.begin(), hold_.end(), o);
        hold_.clear();
        state_ = State::Text;
    }
}

namespace {

// Copies literal text from `p` to `o` up to the next '=' or LF (or `end`), a block at a
// time: whole blocks are stored, then `o` advances only past the literal bytes. The caller
// sized the output so that `o` stays at most as far ahead as `p`, so the stores fit.
const char* copy_text(const char* p, const char* const end, char*& o) noexcept {
#if defined(__SSE2__) && !defined(RINGMAIL_NO_SIMD)
    const __m128i eq = _mm_set1_epi8('='), lf = _mm_set1_epi8('\n');
    while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);
        const unsigned m = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, eq), _mm_cmpeq_epi8(v, lf))));
        if (m) {
            const int k = __builtin_ctz(m);
            o += k;
            return p + k;
        }
        p += 16;
        o += 16;
    }
#else
    // Eight bytes at a time: a zero byte in w ^ '='... or w ^ LF... marks a stop; the
    // lowest flagged byte is exact (borrows only run upwards).
    constexpr std::uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    while (end - p >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        std::memcpy(o, &w, 8);
        const std::uint64_t a = w ^ (ones * '='), b = w ^ (ones * '\n');
        const std::uint64_t m = (((a - ones) & ~a) | ((b - ones) & ~b)) & highs;
        if (m) {
            std::size_t k = 0;  // first flagged byte, in memory order
            while (!(reinterpret_cast<const unsigned char*>(&m)[k] & 0x80)) ++k;
            o += k;
            return p + k;
        }
        p += 8;
        o += 8;
    }
#endif
    while (p < end && *p != '=' && *p != '\n') *o++ = *p++;
    return p;
}

}  // namespace

char* QpDecoder::decode(const char* p, const char* const end, char* o) {
    while (p < end) {
        if (state_ != State::Text) {
            o = step(*p++, o);
            continue;
        }
        const char* const text = p;
        p = copy_text(p, end, o);
        if (p != end && *p == '=') {
            // Blanks and CRs before '=' do not end a line: they stay literal as copied.
            // Escapes and CRLF soft breaks are taken inline, a run of them at once ("=C3=A9"):
            // the same bytes as step() would give for each.
            while (end - p >= 3 && *p == '=') {
                const int h1 = hex(p[1]), h2 = hex(p[2]);
                if ((h1 | h2) >= 0) {
                    *o++ = static_cast<char>(h1 << 4 | h2);
                } else if (p[1] != '\r' || p[2] != '\n') {
                    break;
                }
                p += 3;
            }
            if (p != end && *p == '=') o = step(*p++, o);  // malformed, or cut by `end`
            continue;
        }
        if (p != end) {
            // LF: a plain line end unless blanks precede it (and its CR), which are
            // trailing whitespace (RFC 2045 6.7 (3)); step() decides on those below.
            const char* q = p;
            if (q > text && q[-1] == '\r') --q;
            if (q == text || !is_space(q[-1])) {
                *o++ = '\n';
                ++p;
                continue;
            }
        }
        // Blanks and CRs right before the LF or the end depend on what follows: take them
        // back and let step() decide, as it would byte by byte.
        const char* t = p;
        while (t > text && (is_space(t[-1]) || t[-1] == '\r')) --t;
        o -= p - t;
        while (t < p) o = step(*t++, o);
        if (p != end) o = step(*p++, o);  // the LF
    }
    return o;
}

void QpDecoder::feed(std::string_view in, std::string& out) {
    const char* p = in.data();
    const char* const end = p + in.size();
    // Room for all of it at once: the decoded bytes are never more than the input plus
    // what was held. Without this the 64 KiB steps below would grow `out` by doubling,
    // copying the body at each step (reserve still grows geometrically when called with
    // many small feeds).
    if (const std::size_t need = out.size() + in.size() + hold_.size(); need > out.capacity()) out.reserve(need);
    while (p < end) {
        const char* const e = static_cast<std::size_t>(end - p) > kChunk ? p + kChunk : end;
        const std::size_t at = out.size();
        // Each byte, held or new, is written at most once.
        out.resize(at + static_cast<std::size_t>(e - p) + hold_.size());
        char* const o = decode(p, e, out.data() + at);
        out.resize(static_cast<std::size_t>(o - out.data()));
        p = e;
    }
}

void QpDecoder::finish(std::string& out) {
    // End of data ends the last line: trailing spaces and a soft break there are dropped
    // (RFC 2045 6.7 (3), (5)); an incomplete escape or a bare CR is data.
    if (state_ == State::Cr || state_ == State::EqCr || state_ == State::EqHex) out += hold_;
    hold_.clear();
    state_ = State::Text;
}

std::string qp_decode(std::string_view in) {
    QpDecoder d;
    std::string out;
    d.feed(in, out);
    d.finish(out);
    return out;
}

namespace {

// RFC 2045 6.7 (2): 33..126 except '=' stand for themselves; space and tab too unless
// they end a line (rule 3), decided by the caller.
constexpr std::array<bool, 256> make_literal() {
    std::array<bool, 256> t{};
    for (int c = 33; c <= 126; ++c) t[c] = c != '=';
    t[' '] = t['\t'] = true;
    return t;
}
constexpr auto kLiteral = make_literal();
using base::kUpperHex;

// RFC 2045 6.7 (5): encoded lines are at most 76 characters; a soft break "=" counts.
constexpr std::size_t kMaxLine = 76;

class QpWriter {
public:
    explicit QpWriter(std::string& out) : out_(out) {}
    ~QpWriter() { out_.append(buf_, n_); }
    QpWriter(const QpWriter&) = delete;
    QpWriter& operator=(const QpWriter&) = delete;

    // One line of content (no line end); `last` bytes are followed by a line end or the
    // end of the data, so a space or tab there is encoded.
    void line(const unsigned char* s, std::size_t len) {
        for (std::size_t i = 0; i < len; ++i) {
            const unsigned char c = s[i];
            const bool literal = kLiteral[c] && !((c == ' ' || c == '\t') && i + 1 == len);
            const std::size_t width = literal ? 1 : 3;
            // Soft break unless this token ends the line and still fits in 76 columns.
            if (col_ + width > kMaxLine - 1 && !(i + 1 == len && col_ + width <= kMaxLine)) {
                put("=\r\n", 3);
                col_ = 0;
            }
            if (literal) {
                buf_[n_++] = static_cast<char>(c);
            } else {
                buf_[n_++] = '=';
                buf_[n_++] = kUpperHex[c >> 4];
                buf_[n_++] = kUpperHex[c & 15];
            }
            col_ += width;
            if (n_ > sizeof buf_ - 8) flush();
        }
    }
    void crlf() {
        put("\r\n", 2);
        col_ = 0;
    }

private:
    void put(const char* s, std::size_t len) {
        std::memcpy(buf_ + n_, s, len);
        n_ += len;
        if (n_ > sizeof buf_ - 8) flush();
    }
    void flush() {
        out_.append(buf_, n_);
        n_ = 0;
    }

    std::string& out_;
    char buf_[4096];
    std::size_t n_ = 0;
    std::size_t col_ = 0;
};

}  // namespace

std::string qp_encode(std::string_view in, bool binary) {
    std::string out;
    out.reserve(in.size() + in.size() / 4 + 16);
    {
        QpWriter w(out);
        const auto* s = reinterpret_cast<const unsigned char*>(in.data());
        if (binary) {
            w.line(s, in.size());
        } else {
            std::size_t i = 0;
            while (i < in.size()) {
                const void* f = std::memchr(s + i, '\n', in.size() - i);
                if (!f) {
                    w.line(s + i, in.size() - i);
                    break;
                }
                const auto lf = static_cast<std::size_t>(static_cast<const unsigned char*>(f) - s);
                const std::size_t e = lf > i && s[lf - 1] == '\r' ? lf - 1 : lf;
                w.line(s + i, e - i);
                w.crlf();
                i = lf + 1;
            }
        }
    }
    return out;
}

}  // namespace ringmail::mime
