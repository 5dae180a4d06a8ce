// mime/header_fields.hpp — the top-level header fields the mail object carries, raw and
// unfolded (RFC 5322 2.2.3), read from the header section of a message. Pure.
// XXX: raw values only; RFC 2047 decoding arrives with the streaming MIME parser.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::mime {

struct HeaderFields {
    std::optional<std::string> from, to, cc, bcc, subject;
};

// Reads fields up to the first empty line; a repeated field keeps its first value.
HeaderFields read_header_fields(std::string_view message);

}  // namespace ringmail::mime
