// mime/stream_parser.hpp — incremental MIME parser (RFC 2045-2049, 2183, 2231, 2047):
// fed the message bytes as they arrive, one pass, bounded memory. Splits the message
// into `message` (HTML, else text, as UTF-8) and attachments. Pure; any split of the
// input gives the same result.
#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mime/parsed_mail.hpp"

namespace ringmail::mime {

struct MimeLimits {
    std::size_t max_depth = 32;         // nested multiparts; deeper parts are treated as text
    std::size_t max_parts = 10000;      // leaf parts; past it the rest is ignored
    std::size_t max_header_bytes = 256 * 1024;  // one part's header section
};

class StreamParser {
public:
    explicit StreamParser(const MimeLimits& limits = {});
    ~StreamParser();
    StreamParser(StreamParser&&) noexcept;
    StreamParser& operator=(StreamParser&&) noexcept;

    void feed(std::span<const char> in);
    ParsedMail finish();  // the parser is spent afterwards, until reset()
    // Ready for the next message, as a new parser is, keeping the buffers of the last one
    // that are not large (a server reuses its parsers: no allocation for the parser, its
    // header section or its scratch space per message).
    void reset();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

ParsedMail parse_message(std::string_view message, const MimeLimits& limits = {});

}  // namespace ringmail::mime
