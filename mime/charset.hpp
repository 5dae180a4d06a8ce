// mime/charset.hpp — text in a declared charset to UTF-8 through iconv. Best effort:
// an unknown charset is read as windows-1252 unless the bytes are valid UTF-8; bytes
// invalid in their charset become U+FFFD and the rest is kept.
#pragma once
#include <string>
#include <string_view>

namespace ringmail::mime {

std::string to_utf8(std::string_view in, std::string_view charset);
// The same; returns `in` itself, without a copy, when it is already ASCII or valid UTF-8
// in a UTF-8 label.
std::string to_utf8_moved(std::string&& in, std::string_view charset);
bool is_valid_utf8(std::string_view s) noexcept;
// Raw header bytes that are not valid UTF-8 (8-bit headers): read as windows-1252.
std::string utf8_or_latin1(std::string_view s);

}  // namespace ringmail::mime
