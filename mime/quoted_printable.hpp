// mime/quoted_printable.hpp — quoted-printable (RFC 2045 6.7). Decoding is tolerant as
// mail needs: soft line breaks "=\r\n" and "=\n", trailing whitespace before a line end
// dropped, a malformed "=XY" kept literally. Encoding keeps lines within 76 columns,
// encodes '=', controls, 8-bit bytes and trailing whitespace, and emits only CRLF breaks.
#pragma once
#include <string>
#include <string_view>

namespace ringmail::mime {

class QpDecoder {
public:
    // Appends decoded bytes; any split of the input gives the same bytes.
    void feed(std::string_view in, std::string& out);
    void finish(std::string& out);

private:
    std::string hold_;  // an incomplete escape or trailing whitespace, at most a few bytes
};

std::string qp_decode(std::string_view in);
// `binary`: CR and LF are data and get encoded; otherwise CRLF/LF are line breaks, kept as CRLF.
std::string qp_encode(std::string_view in, bool binary = false);

}  // namespace ringmail::mime
