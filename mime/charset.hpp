// mime/charset.hpp — text in a declared charset to UTF-8 through iconv. Best effort:
// an unknown charset is read as windows-1252 unless the bytes are valid UTF-8; bytes
// invalid in their charset become U+FFFD and the rest is kept.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail::mime {

std::string to_utf8(std::string_view in, std::string_view charset);
// The same; returns `in` itself, without a copy, when it is already ASCII or valid UTF-8
// in a UTF-8 label.
std::string to_utf8_moved(std::string&& in, std::string_view charset);
bool is_valid_utf8(std::string_view s) noexcept;

// UTF-8 validity of text that only grows (a body as it is decoded): each update() reads
// just the bytes appended since the last, while they are still in cache, so that the
// conversion at the end need not read the whole body once more.
class Utf8Check {
public:
    // `text` is all the text so far; what an earlier call saw is a prefix of it.
    void update(std::string_view text) noexcept;
    // All of `text` checked (update() saw it whole) and well-formed, no sequence cut short.
    bool valid(std::string_view text) const noexcept { return !bad_ && checked_ == text.size(); }
    bool ascii(std::string_view text) const noexcept { return valid(text) && ascii_; }

private:
    std::size_t checked_ = 0;  // bytes known well-formed; a sequence cut at the end waits
    bool ascii_ = true;
    bool bad_ = false;
};
// to_utf8_moved for text that `known` has checked: the same result without reading it again
// when it is ASCII or valid UTF-8.
std::string to_utf8_moved(std::string&& in, std::string_view charset, const Utf8Check& known);
// The other way, for composing: UTF-8 text in `charset`. False (and `out` untouched) when
// the charset is unknown or a character of `in` has no equivalent in it. Not for a hot
// path: a converter other than UTF-8's and ASCII's is opened and closed per call.
bool from_utf8(std::string_view in, std::string_view charset, std::string& out);
// Raw header bytes that are not valid UTF-8 (8-bit headers): read as windows-1252.
std::string utf8_or_latin1(std::string_view s);

// Converters are opened on first use and kept, per thread (at most 32; see charset.cpp).
// Opening one may read gconv modules from disk: a server calls this at the start of each
// thread that parses mail, so that the common charsets never open one while mail flows.
void warm_up_charsets();
// Test hook: how many converters this thread has opened (iconv_open calls) so far.
std::size_t charset_converters_opened() noexcept;

}  // namespace ringmail::mime
