// relay/mx_result.cpp — MX answers into verdicts (RFC 5321 5.1, RFC 7505, RFC 3463 codes),
// MX RDATA parsing, host ordering, domain syntax. Pure: no DNS, no clock.
#include "relay/mx_result.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include "base/ascii.hpp"

namespace ringmail::relay {

MxVerdict verdict(const MxResult& r) {
    using Kind = MxVerdict::Kind;
    const std::string& d = r.domain;
    switch (r.status) {
    case MxStatus::Mx:
    case MxStatus::ImplicitMx: {
        bool temp = false;
        for (const MxHost& h : r.hosts) {
            if (h.status == HostStatus::Ok) return {};
            temp = temp || h.status == HostStatus::TempFail;
        }
        // X.4.3: "directory server failure", what Postfix gives for DNS trouble; X.4.4:
        // "unable to route", no host of the domain has an address.
        if (temp) return {Kind::Retry, 451, "4.4.3", "address lookup of the MX hosts of " + d + " failed for now"};
        if (r.status == MxStatus::ImplicitMx)
            return {Kind::Fail, 550, "5.4.4", d + " has no MX record and no address"};
        return {Kind::Fail, 550, "5.4.4", "no MX host of " + d + " has an address"};
    }
    case MxStatus::NullMx:
        // RFC 7505 3 and 4.2: a null MX means the domain accepts no mail; 556 is RFC 7504's
        // "domain does not accept mail", 5.1.10 the code RFC 7505 registers.
        return {Kind::Fail, 556, "5.1.10", "recipient domain " + d + " has a null MX (accepts no mail)"};
    case MxStatus::NxDomain:
        return {Kind::Fail, 550, "5.1.2", "recipient domain " + d + " does not exist (NXDOMAIN)"};
    case MxStatus::BadName:
        return {Kind::Fail, 550, "5.1.2", "bad recipient domain name"};
    case MxStatus::TempFail:
        break;
    }
    return {Kind::Retry, 451, "4.4.3", "DNS lookup of " + d + " failed for now: " + r.why};
}

std::string_view to_string(MxStatus s) noexcept {
    switch (s) {
    case MxStatus::Mx: return "mx";
    case MxStatus::ImplicitMx: return "implicit-mx";
    case MxStatus::NullMx: return "null-mx";
    case MxStatus::NxDomain: return "nxdomain";
    case MxStatus::BadName: return "bad-name";
    case MxStatus::TempFail: return "temp-fail";
    }
    return "?";
}

std::string_view to_string(HostStatus s) noexcept {
    switch (s) {
    case HostStatus::Ok: return "ok";
    case HostStatus::NoAddress: return "no-address";
    case HostStatus::TempFail: return "temp-fail";
    }
    return "?";
}

std::string format_address(std::span<const std::uint8_t, 4> a) {
    char buf[INET_ADDRSTRLEN];
    return inet_ntop(AF_INET, a.data(), buf, sizeof buf) ? buf : "?";
}

std::string format_address(std::span<const std::uint8_t, 16> a) {
    char buf[INET6_ADDRSTRLEN];
    return inet_ntop(AF_INET6, a.data(), buf, sizeof buf) ? buf : "?";
}

std::optional<std::string> normalize_domain(std::string_view d) {
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    // RFC 1035 2.3.4: 255 octets on the wire is 253 in text without the final dot.
    if (d.empty() || d.size() > 253) return std::nullopt;
    std::string out;
    out.reserve(d.size());
    std::size_t label = 0;
    for (const char c : d) {
        if (c == '.') {
            if (label == 0) return std::nullopt;
            label = 0;
        } else if (base::is_alpha(c) || base::is_digit(c) || c == '-' || c == '_') {
            if (++label > 63) return std::nullopt;
        } else {
            return std::nullopt;
        }
        out += base::to_lower(c);
    }
    if (label == 0) return std::nullopt;
    return out;
}

std::optional<MxRecord> parse_mx_rdata(std::span<const std::uint8_t> rd) {
    if (rd.size() < 3) return std::nullopt;
    MxRecord rec;
    rec.preference = static_cast<std::uint16_t>(rd[0] << 8 | rd[1]);
    std::size_t i = 2;
    for (;;) {
        if (i >= rd.size()) return std::nullopt;
        const std::size_t len = rd[i++];
        if (len == 0) break;
        // libunbound hands out uncompressed names; a pointer (or the reserved 01/10 label
        // types) here is malformed. RFC 1035 3.1: labels of at most 63 octets.
        if (len > 63 || i + len > rd.size()) return std::nullopt;
        if (!rec.name.empty()) rec.name += '.';
        for (std::size_t k = 0; k < len; ++k) {
            const char c = static_cast<char>(rd[i + k]);
            // Only host-name octets: a name with '.', NUL or controls inside a label could
            // not be looked up again as text, nor printed safely.
            if (!(base::is_alpha(c) || base::is_digit(c) || c == '-' || c == '_')) return std::nullopt;
            rec.name += c;
        }
        i += len;
    }
    if (i != rd.size() || rec.name.size() > 253) return std::nullopt;
    return rec;
}

void order_hosts(std::vector<MxHost>& hosts, std::mt19937_64& rng) {
    std::stable_sort(hosts.begin(), hosts.end(),
                     [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
    for (auto run = hosts.begin(); run != hosts.end();) {
        auto end = std::find_if(run, hosts.end(), [&](const MxHost& h) { return h.preference != run->preference; });
        std::shuffle(run, end, rng);
        run = end;
    }
}

}  // namespace ringmail::relay
