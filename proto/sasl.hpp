// proto/sasl.hpp — the base64 that SASL exchanges need (RFC 4954 4, RFC 4648 4) and the
// PLAIN message split (RFC 4616 2). Strict: AUTH responses carry no line breaks.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace ringmail::proto {

std::optional<std::string> sasl_base64_decode(std::string_view in);
std::string sasl_base64_encode(std::string_view in);

struct PlainCredentials {
    std::string user;      // authcid
    std::string password;
};
// "authzid NUL authcid NUL passwd"; nullopt when malformed.
std::optional<PlainCredentials> split_plain(std::string_view decoded);

}  // namespace ringmail::proto
