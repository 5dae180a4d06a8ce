// mime/quoted_printable.hpp — quoted-printable (RFC 2045 6.7). Decoding is tolerant as
// mail needs: soft line breaks "=\r\n" and "=\n" (also with whitespace between), trailing
// whitespace before a line end dropped, lower-case hex accepted, a malformed "=XY" kept
// literally. Encoding keeps lines within 76 columns, encodes '=', controls, 8-bit bytes
// and trailing whitespace, and emits only CRLF breaks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::mime {

// RFC 2045 6.7 (3): whitespace at the end of an encoded line was added in transport and is
// deleted. A run longer than an SMTP line (RFC 5321 4.5.3.1.6) cannot be such padding; it
// is kept as data, which bounds what the decoder holds between feeds.
inline constexpr std::size_t kQpMaxTrailingSpace = 998;

class QpDecoder {
public:
    // Appends decoded bytes; any split of the input gives the same bytes. Line ends are
    // kept as they came (CRLF or bare LF); `out` grows by at most the size of `in` plus
    // what was held.
    void feed(std::string_view in, std::string& out);
    // End of data: a held "=" (soft break at the end) and trailing whitespace are dropped,
    // an incomplete "=X" is kept. Resets the decoder for a new stream.
    void finish(std::string& out);

private:
    enum class State : std::uint8_t { Text, Space, LongSpace, Cr, Eq, EqHex, EqSpace, EqCr };
    char* step(char c, char* o);                    // one byte through the state machine
    char* decode(const char* p, const char* end, char* o);

    State state_ = State::Text;
    std::string hold_;  // bytes whose meaning depends on what follows: "=", "=X", "=" + spaces,
                        // spaces, spaces + CR; at most kQpMaxTrailingSpace + 2 bytes
};

std::string qp_decode(std::string_view in);
// `binary`: CR and LF are data and get encoded; otherwise CRLF/LF are line breaks, kept as
// CRLF (a bare CR is data). No CRLF is added after the last line.
std::string qp_encode(std::string_view in, bool binary = false);

}  // namespace ringmail::mime
