// tools/cmd_mx.cpp — `ringmail mx DOMAIN [--json]`: the MX hosts of a domain as the relay
// sees them (relay::Resolver with mail.ini's [relay] resolver and dnssec), in the order it
// would try them, with addresses and TTLs; or why it would not deliver there.
// Exit status: 0 deliverable; 1 temporary failure (the relay would retry); 2 permanent
// failure (null MX, NXDOMAIN, no host with an address, bad name) and usage or config errors.
#include <sys/stat.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "config/config.hpp"
#include "relay/dns.hpp"
#include "tools/commands.hpp"

namespace ringmail::tools {
namespace {

std::vector<std::string> addresses(const relay::MxHost& h) {
    std::vector<std::string> out;
    for (const auto& a : h.v4) out.push_back(relay::format_address(a));
    for (const auto& a : h.v6) out.push_back(relay::format_address(a));
    return out;
}

int exit_status(const relay::MxVerdict& v) {
    switch (v.kind) {
    case relay::MxVerdict::Kind::Deliver: return 0;
    case relay::MxVerdict::Kind::Retry: return 1;
    case relay::MxVerdict::Kind::Fail: return 2;
    }
    return 2;
}

std::string_view kind_name(relay::MxVerdict::Kind k) {
    switch (k) {
    case relay::MxVerdict::Kind::Deliver: return "deliver";
    case relay::MxVerdict::Kind::Retry: return "retry";
    case relay::MxVerdict::Kind::Fail: return "fail";
    }
    return "?";
}

void print_json(const relay::MxResult& r, const relay::MxVerdict& v) {
    nlohmann::json j;
    j["domain"] = r.domain;
    j["status"] = relay::to_string(r.status);
    j["ttl"] = r.ttl;
    j["secure"] = r.secure;
    j["hosts"] = nlohmann::json::array();
    for (const auto& h : r.hosts)
        j["hosts"].push_back({{"preference", h.preference}, {"name", h.name}, {"status", relay::to_string(h.status)},
                              {"ttl", h.ttl}, {"addresses", addresses(h)}});
    j["verdict"] = {{"kind", kind_name(v.kind)}, {"code", v.code}, {"enhanced", v.enhanced}, {"text", v.text}};
    if (!r.why.empty()) j["why"] = r.why;
    std::cout << j.dump(2) << '\n';
}

void print_text(const relay::MxResult& r, const relay::MxVerdict& v) {
    if (r.status == relay::MxStatus::Mx || r.status == relay::MxStatus::ImplicitMx) {
        std::printf("%s: %s (ttl %us%s)\n", r.domain.c_str(),
                    r.status == relay::MxStatus::Mx ? "MX" : "no MX record: implicit MX, the domain itself (RFC 5321 5.1)",
                    r.ttl, r.secure ? ", DNSSEC-validated" : "");
        for (const auto& h : r.hosts) {
            std::string line = "  " + std::to_string(h.preference) + " " + h.name + " (ttl " + std::to_string(h.ttl) + "s):";
            for (const auto& a : addresses(h)) line += " " + a;
            if (h.status == relay::HostStatus::NoAddress) line += " no address (skipped)";
            if (h.status == relay::HostStatus::TempFail) line += " address lookup failed for now (skipped)";
            std::printf("%s\n", line.c_str());
        }
    }
    if (v.kind != relay::MxVerdict::Kind::Deliver)
        std::printf("%s: %s: %d %.*s %s\n", r.domain.c_str(), std::string(relay::to_string(r.status)).c_str(), v.code,
                    static_cast<int>(v.enhanced.size()), v.enhanced.data(), v.text.c_str());
}

}  // namespace

void add_mx(CLI::App& app, int& status) {
    struct Args {
        std::string domain;
        std::string config = "mail.ini";
        bool json = false;
    };
    static Args a;
    CLI::App* cmd = app.add_subcommand("mx", "Show a domain's MX hosts as the relay sees them");
    cmd->footer(
        "Asks the DNS server of mail.ini's [relay] resolver (default: /etc/resolv.conf's), validating\n"
        "with the root trust anchor when dnssec is on. Exit status: 0 deliverable; 1 temporary\n"
        "failure (the relay would retry); 2 permanent failure (null MX, NXDOMAIN, no MX host with\n"
        "an address) or a usage or config error.");
    cmd->add_option("domain", a.domain, "the domain (the part of an address after the @)")->required();
    cmd->add_option("--config", a.config, "INI file (its [relay] section); mail.ini when present")->capture_default_str();
    cmd->add_flag("--json", a.json, "one JSON object: domain, status, ttl, secure, hosts, verdict");
    cmd->callback([&status] {
        try {
            Config config;
            struct stat st{};
            // The default path may be absent (defaults then); a named file must exist.
            if (a.config != "mail.ini" || ::stat(a.config.c_str(), &st) == 0) config = load_config(a.config, false);
            relay::ResolverOptions options;
            options.resolver = config.relay.resolver;
            options.dnssec = config.relay.dnssec;
            const relay::MxResult r = relay::resolve_mx_sync(options, a.domain);
            const relay::MxVerdict v = relay::verdict(r);
            if (a.json) print_json(r, v);
            else print_text(r, v);
            status = exit_status(v);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ringmail: %s\n", e.what());
            status = 2;
        }
    });
}

}  // namespace ringmail::tools
