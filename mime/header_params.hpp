// mime/header_params.hpp — Content-Type / Content-Disposition values: the token and its
// parameters (RFC 2045 5.1, RFC 2183), with RFC 2231 continuations (name*0, name*1*),
// charsets and percent-encoding, and RFC 2047 words in quoted values, all to UTF-8.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringmail::mime {

struct HeaderParams {
    std::string value;  // lower-cased: "text/plain", "attachment"
    // Lower-cased names, decoded UTF-8 values, in order of first appearance; one entry a
    // name. A flat vector: a part has a handful, and a node-based map cost an allocation
    // per parameter on every part of every message.
    std::vector<std::pair<std::string, std::string>> params;
    // Case-insensitive; nullptr when absent. Valid while this object is unchanged.
    const std::string* find(std::string_view name) const noexcept;
    std::string param(std::string_view name) const;  // "" when absent
    std::string take(std::string_view name);          // moves the value out; "" when absent
};

HeaderParams parse_header_params(std::string_view raw);
// `name="value"` for ASCII, `name*=utf-8''percent-encoded` otherwise (RFC 2231 4).
std::string encode_param(std::string_view name, std::string_view utf8_value);

}  // namespace ringmail::mime
