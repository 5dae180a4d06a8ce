// proto/body_reader.cpp — the DATA/BDAT byte scanner. Hot path: one scan for CR or LF per
// line, and one append per run of clean lines (the body is the input
// minus stuffed dots, so runs between dots copy as they are); state survives any split.
#include "proto/body_reader.hpp"

#include <algorithm>
#include <cstring>
#if defined(__SSE2__) && !defined(RINGMAIL_NO_SIMD)
#include <emmintrin.h>
#endif

#include "base/growth.hpp"

namespace ringmail::proto {

void BodyReader::start(std::string* body, std::uint64_t max_size, std::size_t max_line) noexcept {
    body_ = body;
    max_size_ = max_size;
    max_line_ = max_line;
    size_ = 0;
    line_len_ = 0;
    state_ = State::LineStart;
    error_ = Error::None;
    dots_ = true;
}

void BodyReader::append(const char* p, std::size_t n) noexcept {
    size_ += n;
    if (size_ > max_size_) latch(Error::MessageTooBig);
    if (error_ != Error::None || !body_) return;
    // Past 1 MiB the buffer grows once, to the size limit (64 MiB at most), not by doubling.
    base::append_growing(*body_, {p, n}, static_cast<std::size_t>(std::min<std::uint64_t>(max_size_, 64u << 20)));
}

// Copies line text up to the next CR or LF; leaves `i` on that byte's successor state.
void BodyReader::text(const char* p, std::size_t n, std::size_t& i) noexcept {
    const char* start = p + i;
    const std::size_t rest = n - i;
    const void* lf = std::memchr(start, '\n', rest);
    const std::size_t lim = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - start) : rest;
    const void* cr = std::memchr(start, '\r', lim);
    const std::size_t k = cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - start) : lim;
    line_len_ += k;
    // RFC 5321 4.5.3.1.6: 1000 octets with the CRLF.
    if (line_len_ + 2 > max_line_) latch(Error::TextLineTooLong);
    append(start, k);
    i += k;
    if (k == rest) return;
    if (start[k] == '\r') {
        state_ = State::Cr;
    } else {
        // RFC 5321 2.3.8: LF alone is not a line end, so what follows it is not at a line
        // start either: "\n.\r\n" must not end the data (SMTP smuggling, invariant 5).
        latch(Error::BareLineEnding);
        state_ = State::Text;
        line_len_ = 0;
    }
    ++i;
}

namespace {

// The first CR or LF in p[i, n), or n: one pass for both (16 octets a step with SSE2),
// where two memchr calls a line cost more than the scan itself on short lines.
std::size_t find_cr_or_lf(const char* p, std::size_t i, std::size_t n) noexcept {
#if defined(__SSE2__) && !defined(RINGMAIL_NO_SIMD)
    const __m128i cr = _mm_set1_epi8('\r');
    const __m128i lf = _mm_set1_epi8('\n');
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        const unsigned m = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf))));
        if (m) return i + static_cast<std::size_t>(__builtin_ctz(m));
    }
#endif
    for (; i < n; ++i)
        if (p[i] == '\r' || p[i] == '\n') return i;
    return n;
}

}  // namespace

// From `i`, inside a line's text: the end of the run of whole lines that need no
// rewriting (CRLF-terminated, no other CR or LF, within the line limit), stopped before
// a line that starts with a dot (DATA). `i` itself when there is none. A clean line's
// first CR or LF is its CR, and an LF follows it.
std::size_t BodyReader::clean_run(const char* p, std::size_t n, std::size_t i) const noexcept {
    std::size_t j = i;
    std::size_t len = line_len_;
    while (j < n) {
        const std::size_t e = find_cr_or_lf(p, j, n);
        if (e + 1 >= n || p[e] != '\r' || p[e + 1] != '\n') break;  // cut off here, or bare
        if (len + (e - j) + 2 > max_line_) break;                     // too long
        j = e + 2;
        len = 0;
        if (dots_ && j < n && p[j] == '.') break;
    }
    return j;
}

BodyReader::DataStep BodyReader::feed_data(std::span<const char> in) noexcept {
    const char* p = in.data();
    const std::size_t n = in.size();
    std::size_t i = 0;
    while (i < n) {
        switch (state_) {
        case State::LineStart:
            line_len_ = 0;
            if (dots_ && p[i] == '.') {  // RFC 5321 4.5.2: drop the first dot of a line
                state_ = State::Dot;
                line_len_ = 1;
                ++i;
            } else {
                state_ = State::Text;
            }
            break;
        case State::Dot:
            if (p[i] == '\r') {
                state_ = State::DotCr;
                ++i;
            } else {
                state_ = State::Text;
            }
            break;
        case State::DotCr:
            if (p[i] == '\n') return {i + 1, true};
            latch(Error::BareLineEnding);  // ".\r" then not LF: a bare CR
            state_ = State::Text;
            break;
        case State::Cr:
            if (p[i] == '\n') {
                append("\r\n", 2);
                state_ = State::LineStart;
                ++i;
            } else {
                latch(Error::BareLineEnding);
                state_ = State::Text;
            }
            break;
        case State::Text:
            if (const std::size_t e = error_ == Error::None ? clean_run(p, n, i) : i; e > i) {
                append(p + i, e - i);
                i = e;
                line_len_ = 0;
                state_ = State::LineStart;
            } else {
                text(p, n, i);
            }
            break;
        }
    }
    return {i, false};
}

void BodyReader::feed_chunk(std::span<const char> in) noexcept {
    dots_ = false;
    feed_data(in);
}

void BodyReader::finish_chunks() noexcept {
    if (state_ == State::Cr) latch(Error::BareLineEnding);
}

}  // namespace ringmail::proto
