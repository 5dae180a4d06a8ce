// proto/body_reader.hpp — message data after DATA (RFC 5321 4.1.4 dot-unstuffing,
// end only at <CRLF>.<CRLF>) and inside BDAT chunks (RFC 3030). Bare CR or LF, lines
// over the limit and oversize messages are latched, never cut short: reading goes on to
// the real end so the reply comes once and nothing of the message is taken as commands.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "proto/reply.hpp"

namespace ringmail::proto {

class BodyReader {
public:
    // Starts a message; unstuffed bytes are appended to `*body` until an error is latched.
    // `body` null: nobody reads the message; its bytes are checked and counted, not kept.
    void start(std::string* body, std::uint64_t max_size, std::size_t max_line) noexcept;

    struct DataStep {
        std::size_t consumed;
        bool done;  // DATA only: <CRLF>.<CRLF> seen (it is not part of the body)
    };
    DataStep feed_data(std::span<const char> in) noexcept;
    // Consumes all of `in` (the caller bounds it by the chunk size).
    void feed_chunk(std::span<const char> in) noexcept;
    // BDAT LAST: a message may not end inside a CR LF pair.
    void finish_chunks() noexcept;

    Error error() const noexcept { return error_; }
    std::uint64_t size() const noexcept { return size_; }  // unstuffed octets so far
    // From outside the bytes (the server is out of memory for bodies): as any latched
    // error, the body is dropped and the rest read to its end.
    void fail(Error e) noexcept { latch(e); }

private:
    enum class State : std::uint8_t { LineStart, Dot, DotCr, Text, Cr };
    void text(const char* p, std::size_t n, std::size_t& i) noexcept;
    std::size_t clean_run(const char* p, std::size_t n, std::size_t i) const noexcept;
    void append(const char* p, std::size_t n) noexcept;
    // The first error wins. The body is dropped at once: it will not be delivered, and
    // what it held would otherwise depend on where the input was split.
    void latch(Error e) noexcept {
        if (error_ != Error::None) return;
        error_ = e;
        if (!body_) return;
        body_->clear();
        body_->shrink_to_fit();
    }

    std::string* body_ = nullptr;
    std::uint64_t max_size_ = 0;
    std::uint64_t size_ = 0;      // octets seen, counted even after an error
    std::size_t max_line_ = 0;
    std::size_t line_len_ = 0;    // octets of the current line so far, dot included
    State state_ = State::LineStart;
    bool dots_ = true;            // DATA: dot-stuffing and end marker; BDAT: neither
    Error error_ = Error::None;
};

}  // namespace ringmail::proto
