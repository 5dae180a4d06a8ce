// smtpd/relay_access.cpp — prefix matching of client addresses; an IPv4-mapped IPv6
// client (::ffff:192.0.2.1) matches IPv4 networks as the address it carries.
#include "smtpd/relay_access.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "base/ascii.hpp"

namespace ringmail::smtpd {
namespace {

bool parse(const std::string& text, bool& v6, std::array<std::uint8_t, 16>& out) {
    if (::inet_pton(AF_INET, text.c_str(), out.data()) == 1) {
        v6 = false;
        return true;
    }
    if (::inet_pton(AF_INET6, text.c_str(), out.data()) != 1) return false;
    static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out.data(), mapped, 12) == 0) {  // ::ffff:a.b.c.d is a.b.c.d
        std::memmove(out.data(), out.data() + 12, 4);
        v6 = false;
        return true;
    }
    v6 = true;
    return true;
}

}  // namespace

RelayAccess::RelayAccess(const std::vector<std::string>& domains, const std::vector<std::string>& networks)
    : domains_(domains) {
    for (auto& d : domains_) d = base::to_lower(d);
    for (const auto& n : networks) {
        const std::size_t slash = n.find('/');
        Net net;
        if (!parse(n.substr(0, slash), net.v6, net.bytes)) continue;  // config/ validated it
        net.bits = net.v6 ? 128 : 32;
        if (slash != std::string::npos) {
            unsigned b = net.bits;
            std::from_chars(n.data() + slash + 1, n.data() + n.size(), b);
            net.bits = std::min(b, net.bits);
        }
        nets_.push_back(net);
    }
}

bool RelayAccess::network_allowed(const std::string& ip) const noexcept {
    bool v6 = false;
    std::array<std::uint8_t, 16> a{};
    if (!parse(ip, v6, a)) return false;
    for (const Net& n : nets_) {
        if (n.v6 != v6) continue;
        const unsigned whole = n.bits / 8, rest = n.bits % 8;
        if (std::memcmp(a.data(), n.bytes.data(), whole) != 0) continue;
        if (rest != 0) {
            const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
            if ((a[whole] & mask) != (n.bytes[whole] & mask)) continue;
        }
        return true;
    }
    return false;
}

bool RelayAccess::domain_allowed(std::string_view address) const noexcept {
    const std::size_t at = address.rfind('@');
    if (at == std::string_view::npos) return false;
    const std::string_view domain = address.substr(at + 1);
    for (const auto& d : domains_)
        if (base::iequals(domain, d)) return true;
    return false;
}

}  // namespace ringmail::smtpd
