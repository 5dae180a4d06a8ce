// smtpd/relay_access.hpp — who may relay through `handler = queue` (issue 14, "Inbound
// relay"): recipients in relay_domains are accepted from anyone; any recipient from
// clients in relay_networks or from logged-in clients; everyone else is refused with
// 554 5.7.1. Never open by default: the default networks are this machine's own.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::smtpd {

class RelayAccess {
public:
    // `networks`: "192.0.2.0/24", "2001:db8::/32", or single addresses (validated by
    // config/); `domains` in lower case.
    RelayAccess(const std::vector<std::string>& domains, const std::vector<std::string>& networks);
    // The client's address as text (IPv4, IPv6, or IPv4-mapped IPv6).
    bool network_allowed(const std::string& ip) const noexcept;
    // The recipient's domain is one we accept mail for (case-insensitive; no subdomains).
    bool domain_allowed(std::string_view address) const noexcept;

private:
    struct Net {
        bool v6 = false;
        std::array<std::uint8_t, 16> bytes{};
        unsigned bits = 0;
    };
    std::vector<std::string> domains_;
    std::vector<Net> nets_;
};

}  // namespace ringmail::smtpd
