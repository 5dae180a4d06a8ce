// relay/message_route.cpp — MessageRoute to and from its store text: a version and seven fields, each
// written as its length in decimal, ':', the octets and ','. A version field first, so a
// later ringmail can add fields and still read what this one wrote.
#include "relay/message_route.hpp"

#include <charconv>

namespace ringmail::relay {
namespace {

constexpr std::string_view kVersion = "1";

void put(std::string& out, std::string_view field) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
    out += ',';
}

// The next field of `in`, consumed; nullopt when `in` does not start with one.
std::optional<std::string_view> take(std::string_view& in) {
    const std::size_t colon = in.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 9) return std::nullopt;
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(in.data(), in.data() + colon, n);
    if (ec != std::errc() || end != in.data() + colon) return std::nullopt;
    if (in.size() < colon + 1 + n + 1 || in[colon + 1 + n] != ',') return std::nullopt;
    const std::string_view field = in.substr(colon + 1, n);
    in.remove_prefix(colon + 1 + n + 1);
    return field;
}

template <typename T>
bool number(std::string_view s, T& out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

}  // namespace

std::string MessageRoute::label() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string MessageRoute::encode() const {
    std::string out;
    put(out, kVersion);
    put(out, host);
    put(out, std::to_string(port));
    put(out, tls == SmarthostTls::Smtps ? "smtps" : tls == SmarthostTls::StartTls ? "starttls" : "none");
    put(out, user);
    put(out, password);
    put(out, std::to_string(timeout_s));
    put(out, verify ? "1" : "0");
    return out;
}

std::optional<MessageRoute> MessageRoute::decode(std::string_view text) {
    std::optional<std::string_view> f[8];
    for (auto& field : f)
        if (!(field = take(text))) return std::nullopt;
    if (!text.empty() || *f[0] != kVersion || f[1]->empty()) return std::nullopt;
    MessageRoute r;
    r.host = std::string(*f[1]);
    if (!number(*f[2], r.port) || r.port == 0) return std::nullopt;
    if (*f[3] == "none") r.tls = SmarthostTls::None;
    else if (*f[3] == "starttls") r.tls = SmarthostTls::StartTls;
    else if (*f[3] == "smtps") r.tls = SmarthostTls::Smtps;
    else return std::nullopt;
    r.user = std::string(*f[4]);
    r.password = std::string(*f[5]);
    if (!number(*f[6], r.timeout_s)) return std::nullopt;
    if (*f[7] != "0" && *f[7] != "1") return std::nullopt;
    r.verify = *f[7] == "1";
    return r;
}

}  // namespace ringmail::relay
