// mime/base64.hpp — base64 (RFC 2045 6.8, RFC 4648 4) as mail carries it: decoding skips
// CR, LF, whitespace and other bytes outside the alphabet and stops at padding; encoding
// wraps at 76 columns with CRLF. Streaming: a quantum split across feeds is carried.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::mime {

class Base64Decoder {
public:
    // Appends the decoded bytes of `in` to `out`; any split of the input gives the same bytes.
    // Never reads outside `in`; only `out` may allocate (it grows by at most ~3/4 of `in`).
    void feed(std::string_view in, std::string& out);
    // Flushes a trailing partial quantum (2 or 3 sextets give 1 or 2 bytes; a lone sextet
    // is dropped and counts as an error), then resets the decoder for a new stream, keeping
    // had_errors().
    void finish(std::string& out);
    // Bytes outside the alphabet (other than whitespace) seen before the padding, or a
    // lone sextet at the end: the input was not clean base64, the output is best effort.
    bool had_errors() const noexcept { return errors_; }

private:
    std::size_t decode(const char* p, const char* end, unsigned char* o) noexcept;

    std::uint32_t acc_ = 0;  // sextets of the quantum in progress
    int bits_ = 0;           // 0, 6, 12 or 18
    bool done_ = false;      // padding seen: the rest is ignored
    bool errors_ = false;
};

std::string base64_decode(std::string_view in);
// `line` 0: one line, no breaks; otherwise CRLF every `line` output characters, between
// lines only (no CRLF after the last line; the caller ends the body).
std::string base64_encode(std::string_view in, std::size_t line = 76);

}  // namespace ringmail::mime
