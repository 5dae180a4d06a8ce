// bench/floor/scanner.cpp — command lines to canned replies, and the scan for the end of a
// DATA body (RFC 5321 4.1.1.4: <CRLF>.<CRLF> only; dot-stuffed lines, 4.5.2, do not end it).
// Only the first five bytes of a line are kept, so a line split across reads costs nothing.
#include "bench/floor/scanner.hpp"

#include <cstring>
#include <string_view>

namespace ringmail::floor {
namespace {

using namespace std::string_view_literals;

constexpr auto kGreeting = "220 floor ESMTP ringmail-floor\r\n"sv;
// RFC 1870: the SIZE we advertise is ringmail's default limit; nothing is checked against it.
constexpr auto kEhlo = "250-floor\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 36700160\r\n"sv;
constexpr auto kHelo = "250 floor\r\n"sv;
constexpr auto kOk = "250 2.0.0 OK\r\n"sv;
constexpr auto kData = "354 End data with <CR><LF>.<CR><LF>\r\n"sv;
constexpr auto kQueued = "250 2.0.0 OK: discarded\r\n"sv;
constexpr auto kBye = "221 2.0.0 Bye\r\n"sv;
constexpr auto kUnknown = "500 5.5.2 Command not recognized\r\n"sv;
constexpr auto kTooLong = "500 5.5.6 Line too long\r\n"sv;
static_assert(kEhlo.size() <= Scanner::kMaxReply && kData.size() <= Scanner::kMaxReply);

enum class Verb : std::uint8_t { Ehlo, Helo, Mail, Rcpt, Rset, Noop, Data, Quit, Unknown };

struct VerbInfo {
    std::string_view name;
    Verb verb;
};
constexpr VerbInfo kVerbs[] = {
    {"EHLO", Verb::Ehlo}, {"HELO", Verb::Helo}, {"MAIL", Verb::Mail}, {"RCPT", Verb::Rcpt},
    {"RSET", Verb::Rset}, {"NOOP", Verb::Noop}, {"DATA", Verb::Data}, {"QUIT", Verb::Quit},
};

char upper(char c) noexcept { return (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c; }

// The verb is the first four bytes, followed by a space or the end of the line.
Verb verb_of(const char* head, std::size_t len) noexcept {
    if (len < 4 || (len == 5 && head[4] != ' ' && head[4] != '\r')) return Verb::Unknown;
    for (const VerbInfo& v : kVerbs) {
        if (upper(head[0]) == v.name[0] && upper(head[1]) == v.name[1] && upper(head[2]) == v.name[2] &&
            upper(head[3]) == v.name[3])
            return v.verb;
    }
    return Verb::Unknown;
}

void put(Output& out, std::string_view s) noexcept {
    std::memcpy(out.data + out.size, s.data(), s.size());
    out.size += s.size();
}

}  // namespace

void Scanner::greet(Output& out) noexcept { put(out, kGreeting); }

Scan Scanner::feed(std::span<const char> in, Output& out) noexcept {
    const char* const begin = in.data();
    const char* const end = begin + in.size();
    const char* p = begin;
    while (p < end) {
        std::size_t n = 0;
        switch (phase_) {
        case Phase::Command: n = command(p, end, out); break;
        case Phase::Data: n = body(p, end, out); break;
        case Phase::Quit: return {in.size(), true};  // nothing after QUIT is read
        }
        if (n == 0) break;  // no room for the next reply
        p += n;
    }
    return {std::size_t(p - begin), phase_ == Phase::Quit};
}

// One command line, or the part of it in [p, end). Returns the bytes consumed; 0 when the
// line ends here but its reply would not fit in `out`.
std::size_t Scanner::command(const char* p, const char* end, Output& out) noexcept {
    const auto* lf = static_cast<const char*>(std::memchr(p, '\n', std::size_t(end - p)));
    // The line ends here but its reply would not fit: nothing is consumed, and the same
    // bytes come again once `out` has been sent.
    if (lf && out.room() < kMaxReply) return 0;
    const char* stop = lf ? lf : end;
    for (const char* q = p; q < stop && head_len_ < sizeof head_; ++q) head_[head_len_++] = *q;
    const std::size_t seen = std::size_t(stop - p);
    // Saturates just past the limit: a line of any length is counted in 32 bits.
    line_len_ = line_len_ + seen > kMaxLine ? std::uint32_t(kMaxLine + 1) : std::uint32_t(line_len_ + seen);
    if (!lf) return seen;
    answer(out);
    head_len_ = 0;
    line_len_ = 0;
    return seen + 1;
}

void Scanner::answer(Output& out) noexcept {
    if (line_len_ + 1 > kMaxLine) {  // + the LF
        put(out, kTooLong);
        return;
    }
    switch (verb_of(head_, head_len_)) {
    case Verb::Ehlo: put(out, kEhlo); break;
    case Verb::Helo: put(out, kHelo); break;
    case Verb::Mail:
    case Verb::Rcpt:
    case Verb::Rset:
    case Verb::Noop: put(out, kOk); break;
    case Verb::Data:
        put(out, kData);
        phase_ = Phase::Data;
        eod_ = Eod::LineStart;
        break;
    case Verb::Quit:
        put(out, kBye);
        phase_ = Phase::Quit;
        break;
    case Verb::Unknown: put(out, kUnknown); break;
    }
}

// Body bytes in [p, end) up to and including the LF of <CRLF>.<CRLF>. Returns the bytes
// consumed; 0 when that LF is at p but the 250 would not fit in `out`.
std::size_t Scanner::body(const char* p, const char* end, Output& out) noexcept {
    const char* const begin = p;
    while (p < end) {
        if (eod_ == Eod::Text) {  // the common case: skip to the next CR
            const auto* cr = static_cast<const char*>(std::memchr(p, '\r', std::size_t(end - p)));
            if (!cr) return std::size_t(end - begin);
            p = cr + 1;
            eod_ = Eod::Cr;
            continue;
        }
        const char c = *p;
        switch (eod_) {
        case Eod::Text: break;
        case Eod::Cr: eod_ = c == '\n' ? Eod::LineStart : c == '\r' ? Eod::Cr : Eod::Text; break;
        case Eod::LineStart: eod_ = c == '.' ? Eod::Dot : c == '\r' ? Eod::Cr : Eod::Text; break;
        case Eod::Dot: eod_ = c == '\r' ? Eod::DotCr : Eod::Text; break;  // "..x": dot-stuffed
        case Eod::DotCr:
            if (c == '\n') {
                if (out.room() < kMaxReply) return std::size_t(p - begin);
                put(out, kQueued);
                phase_ = Phase::Command;
                return std::size_t(p + 1 - begin);
            }
            eod_ = c == '\r' ? Eod::Cr : Eod::Text;
            break;
        }
        ++p;
    }
    return std::size_t(p - begin);
}

}  // namespace ringmail::floor
