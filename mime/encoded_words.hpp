// mime/encoded_words.hpp — RFC 2047 encoded words in header values: decoding to UTF-8
// (B and Q, any charset, whitespace between adjacent encoded words dropped, malformed
// words kept as text) and encoding non-ASCII text for Subject and display names.
#pragma once
#include <string>
#include <string_view>

namespace ringmail::mime {

// Unfolds (RFC 5322 2.2.3) and decodes a raw header value to UTF-8.
std::string decode_header_value(std::string_view raw);
// ASCII text comes back as is; otherwise encoded words (UTF-8, B or Q, whichever is
// shorter), each within 75 octets, separated by CRLF SP folds.
std::string encode_header_value(std::string_view utf8);

}  // namespace ringmail::mime
