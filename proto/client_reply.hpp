// proto/client_reply.hpp — the client's view of server replies: RFC 5321 4.2 reply lines
// (multi-line "DDD-text" ... "DDD text") read incrementally, and the EHLO keywords of
// RFC 1870 (SIZE), 2920, 6152, 6531, 3030, 3207, 4954 and 2034. Bounded: a line over
// Limits::max_line or a reply over max_lines is an error, never a growing buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::proto {

struct ServerReply {
    std::uint16_t code = 0;          // 0: no reply (yet)
    std::vector<std::string> lines;  // text after "DDD-" / "DDD ", one per line
    // "DDD text" with the lines joined by " / "; for reports and logs.
    std::string to_string() const;
    bool positive() const noexcept { return code >= 200 && code < 400; }
};

enum class ReplyError : std::uint8_t {
    None,
    Syntax,        // not "DDD", "DDD text" or "DDD-text", or a code outside 2xx-5xx
    CodeChanged,   // a continuation line with another code (RFC 5321 4.2.1)
    LineTooLong,
    TooManyLines,
};

struct ReplyLimits {
    // RFC 5321 4.5.3.1.5 says 512 octets per reply line; real servers send longer
    // banners, so we accept four times that and no more.
    std::size_t max_line = 2048;
    // An EHLO reply lists a few dozen keywords at most.
    std::size_t max_lines = 128;
};

// Reads one reply at a time. Consumes whole lines only; like ServerSession, the caller
// keeps what was not consumed and feeds it again with the next bytes. Lines may end in
// CRLF or a bare LF (we are lenient in what we read, strict in what we send).
class ReplyReader {
public:
    explicit ReplyReader(ReplyLimits limits = {}) noexcept : limits_(limits) {}
    struct ReadStep {
        std::size_t consumed = 0;
        bool complete = false;           // `reply()` holds a whole reply
        ReplyError error = ReplyError::None;
    };
    // Stops after the first complete reply or error.
    ReadStep feed(std::span<const char> in) noexcept;
    // The finished reply; the reader starts a new one on the next feed().
    ServerReply take() noexcept;
    bool mid_reply() const noexcept { return !partial_.lines.empty(); }

private:
    ReplyLimits limits_;
    ServerReply partial_;
    bool done_ = false;
};

struct Extensions {
    bool esmtp = false;               // the server answered EHLO (not only HELO)
    bool pipelining = false, eight_bit_mime = false, smtputf8 = false, chunking = false;
    bool starttls = false, enhanced_status = false;
    bool size_offered = false;
    std::uint64_t size = 0;           // SIZE limit; 0: none declared
    std::vector<std::string> auth;    // mechanisms, upper case
    bool has_auth(std::string_view mech) const noexcept;
};

// From the lines of a 250 EHLO reply (the first line is the server's name).
Extensions parse_extensions(const ServerReply& ehlo);

}  // namespace ringmail::proto
