// bench/floor/scanner.hpp — the null SMTP server's whole protocol: cuts the input into command
// lines and DATA bodies (RFC 5321 4.1.1, end of data 4.1.1.4) and answers each with a canned
// reply, pipelined groups included (RFC 2920). Pure: bytes in, reply bytes out, nothing of the
// mail kept, no allocation. Any split of the input gives the same replies.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace ringmail::floor {

// A fixed buffer the caller owns (one per connection); replies are appended behind `size`.
struct Output {
    char* data;
    std::size_t capacity;
    std::size_t size = 0;
    std::size_t room() const noexcept { return capacity - size; }
};

struct Scan {
    std::size_t consumed;  // < in.size() only when `out` had no room for the next reply
    bool close;            // QUIT was answered: send what is in `out`, then close
};

class Scanner {
public:
    // The longest single reply (EHLO's); feed() stops before a reply that would not fit.
    static constexpr std::size_t kMaxReply = 128;
    // RFC 5321 4.5.3.1.4 allows 512 octets per command line; extensions (SIZE=, BODY=) add
    // to it, so we take the text-line limit of 4.5.3.1.6 and answer 500 past it.
    static constexpr std::size_t kMaxLine = 1000;

    void greet(Output& out) noexcept;
    Scan feed(std::span<const char> in, Output& out) noexcept;
    bool in_data() const noexcept { return phase_ == Phase::Data; }

private:
    enum class Phase : std::uint8_t { Command, Data, Quit };
    // How much of <CRLF>.<CRLF> the body has shown so far; DATA's own CRLF counts as the
    // first CRLF, so ".\r\n" right after DATA ends an empty body.
    enum class Eod : std::uint8_t { Text, Cr, LineStart, Dot, DotCr };

    std::size_t command(const char* p, const char* end, Output& out) noexcept;
    std::size_t body(const char* p, const char* end, Output& out) noexcept;
    void answer(Output& out) noexcept;

    Phase phase_ = Phase::Command;
    Eod eod_ = Eod::LineStart;
    std::uint8_t head_len_ = 0;
    char head_[5] = {};          // the first bytes of the current line: the verb and what follows it
    std::uint32_t line_len_ = 0;  // bytes of the current line so far (counts on past the limit)
};

}  // namespace ringmail::floor
