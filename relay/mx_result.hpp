// relay/mx_result.hpp — what the relay learns from DNS about a recipient domain: its MX
// hosts in the order to try them (RFC 5321 5.1), or implicit MX, null MX (RFC 7505),
// NXDOMAIN or a temporary failure, and the verdict each means for delivery. Pure: the
// wire-format pieces libunbound hands us are parsed here, so they are tested without DNS.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::relay {

enum class MxStatus : std::uint8_t {
    Mx,          // MX records: hosts in preference order
    ImplicitMx,  // no MX record: the domain itself is the one host (RFC 5321 5.1)
    NullMx,      // MX "." only: the domain takes no mail (RFC 7505) → 5.1.10 at once
    NxDomain,    // the domain does not exist → 5.1.2 at once
    BadName,     // not a domain name we would ask DNS for (syntax) → 5.1.2 at once
    TempFail,    // SERVFAIL, timeout, DNSSEC bogus, resolver error → retry later
};

enum class HostStatus : std::uint8_t {
    Ok,         // at least one address
    NoAddress,  // A and AAAA: no data or NXDOMAIN (a dead MX host: skipped by delivery)
    TempFail,   // no address, and an A or AAAA lookup failed temporarily
};

struct MxHost {
    std::uint16_t preference = 0;
    std::string name;  // as served, without the final dot
    std::vector<std::array<std::uint8_t, 4>> v4;
    std::vector<std::array<std::uint8_t, 16>> v6;
    std::uint32_t ttl = 0;  // seconds: the shortest of its MX record's and A/AAAA answers'
    HostStatus status = HostStatus::Ok;
};

struct MxResult {
    MxStatus status = MxStatus::TempFail;
    std::string domain;          // as asked, lower case, without the final dot
    std::vector<MxHost> hosts;   // Mx, ImplicitMx: in the order to try
    std::uint32_t ttl = 0;       // seconds this answer is (still) cached; 0: not cached
    bool secure = false;         // the MX answer was DNSSEC-validated (for DANE, later)
    bool from_cache = false;     // this copy came from our cache
    std::string why;             // TempFail: the resolver's reason; otherwise empty
};

// What delivery does with a result, and the reply that goes into the recipient's
// last_reply (and a bounce) when it is not Deliver.
struct MxVerdict {
    enum class Kind : std::uint8_t { Deliver, Retry, Fail } kind = Kind::Deliver;
    int code = 0;              // 0 for Deliver
    std::string_view enhanced; // RFC 3463 code, static storage
    std::string text;
};
MxVerdict verdict(const MxResult& r);

std::string_view to_string(MxStatus s) noexcept;   // "mx", "implicit-mx", "null-mx", ...
std::string_view to_string(HostStatus s) noexcept; // "ok", "no-address", "temp-fail"
std::string format_address(std::span<const std::uint8_t, 4> a);
std::string format_address(std::span<const std::uint8_t, 16> a);  // RFC 5952 text

// The domain as we ask for it: lower case, final dot removed. nullopt when it is not a
// host name we would look up: empty, over 253 octets, an empty or 64+ octet label, or an
// octet other than letters, digits, '-' and '_' (so nothing reaches unbound's text parser
// that it would read as an escape). XXX: U-labels (SMTPUTF8 domains) are refused, not
// converted to A-labels; the caller must send IDNA A-labels.
std::optional<std::string> normalize_domain(std::string_view domain);

// One MX RDATA as libunbound returns it: 16-bit preference and an uncompressed wire-format
// name. nullopt when malformed. The root name "." comes back as an empty name.
struct MxRecord {
    std::uint16_t preference = 0;
    std::string name;
};
std::optional<MxRecord> parse_mx_rdata(std::span<const std::uint8_t> rdata);

// RFC 5321 5.1: by preference, lowest first; hosts of equal preference in random order,
// so that load spreads over them. Stable for distinct preferences.
void order_hosts(std::vector<MxHost>& hosts, std::mt19937_64& rng);

}  // namespace ringmail::relay
