// mime/encoded_words.hpp — RFC 2047 encoded words in header values: decoding to UTF-8
// (B and Q, any charset, whitespace between adjacent encoded words dropped, malformed
// words kept as text) and encoding non-ASCII text for Subject and display names.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail::mime {

// Unfolds (RFC 5322 2.2.3) and decodes a raw header value to UTF-8. Leading and trailing
// blanks are trimmed. Never throws on bad input (only std::bad_alloc); linear time.
std::string decode_header_value(std::string_view raw);
// ASCII text comes back as is; otherwise encoded words (UTF-8; Q unless B is shorter
// by 5 octets or more), each within 75 octets, separated by CRLF SP folds. Text that holds "=?",
// control characters or more than 900 octets is encoded too, so that decoding gives it
// back unchanged and no line exceeds 998 octets.
std::string encode_header_value(std::string_view utf8);

// Size of the RFC 2047 encoded word `=?charset?B|Q?text?=` that starts `s`, 0 if none.
// Strict form (no whitespace inside), as a tokenizer of structured fields needs it.
std::size_t encoded_word_size(std::string_view s) noexcept;

}  // namespace ringmail::mime
