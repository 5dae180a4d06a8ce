// mime/header_params.hpp — Content-Type / Content-Disposition values: the token and its
// parameters (RFC 2045 5.1, RFC 2183), with RFC 2231 continuations (name*0, name*1*),
// charsets and percent-encoding, and RFC 2047 words in quoted values, all to UTF-8.
#pragma once
#include <map>
#include <string>
#include <string_view>

namespace ringmail::mime {

struct HeaderParams {
    std::string value;                          // lower-cased: "text/plain", "attachment"
    std::map<std::string, std::string> params;  // lower-cased names, decoded UTF-8 values
    std::string param(const std::string& name) const;  // "" when absent
};

HeaderParams parse_header_params(std::string_view raw);
// `name="value"` for ASCII, `name*=utf-8''percent-encoded` otherwise (RFC 2231 4).
std::string encode_param(std::string_view name, std::string_view utf8_value);

}  // namespace ringmail::mime
