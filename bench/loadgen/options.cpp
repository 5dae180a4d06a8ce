// bench/loadgen/options.cpp — CLI11 parsing and validation of ringmail-bench's options.
// Sizes take k/m suffixes (1024-based); --size-dist is 'size:weight,size:weight'.
#include "options.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <stdexcept>

namespace ringmail::bench {
namespace {

// RFC 5321 4.5.3.1.7 lets servers cap messages at 64 KiB at least; we allow up to
// 64 MiB so that big-message cells work, while the pre-built copies stay small.
constexpr std::size_t kMaxSize = 64u << 20;
constexpr unsigned kMaxRecipients = 1000;
constexpr unsigned kMaxConnections = 100000;
constexpr unsigned kMaxThreads = 256;

std::size_t parse_size(const std::string& s) {
    std::size_t pos = 0;
    const unsigned long long v = std::stoull(s, &pos);
    unsigned long long mul = 1;
    if (pos < s.size()) {
        const char c = s[pos++];
        if (c == 'k' || c == 'K') mul = 1024;
        else if (c == 'm' || c == 'M') mul = 1024 * 1024;
        else throw std::invalid_argument("bad size suffix in '" + s + "'");
        if (pos < s.size() && (s[pos] == 'b' || s[pos] == 'B' || s[pos] == 'i')) ++pos;
        if (pos < s.size() && (s[pos] == 'b' || s[pos] == 'B')) ++pos;
    }
    if (pos != s.size()) throw std::invalid_argument("trailing characters in size '" + s + "'");
    const unsigned long long bytes = v * mul;
    if (bytes == 0 || bytes > kMaxSize) throw std::invalid_argument("size out of range (1 byte .. 64 MiB): " + s);
    return static_cast<std::size_t>(bytes);
}

std::vector<SizeClass> parse_dist(const std::string& spec) {
    std::vector<SizeClass> out;
    std::size_t start = 0;
    while (start <= spec.size()) {
        const std::size_t comma = spec.find(',', start);
        const std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const std::size_t colon = item.find(':');
        if (item.empty()) throw std::invalid_argument("empty item in --size-dist");
        SizeClass sc{parse_size(item.substr(0, colon)), 1};
        if (colon != std::string::npos) {
            std::size_t pos = 0;
            const std::string w = item.substr(colon + 1);
            const unsigned long weight = std::stoul(w, &pos);
            if (pos != w.size() || weight == 0 || weight > 1000000)
                throw std::invalid_argument("bad weight in --size-dist item '" + item + "'");
            sc.weight = static_cast<std::uint32_t>(weight);
        }
        out.push_back(sc);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (out.size() > 64) throw std::invalid_argument("--size-dist: at most 64 sizes");
    return out;
}

}  // namespace

int parse_options(int argc, char** argv, Options& out) {
    CLI::App app{"ringmail-bench: io_uring SMTP load generator (closed or open loop)", "ringmail-bench"};
    unsigned port = out.port;
    std::string size, size_dist;
    app.add_option("--host", out.host, "target host (IPv4/IPv6 literal or name)")->capture_default_str();
    app.add_option("--port", port, "target port")->capture_default_str()->check(CLI::Range(1, 65535));
    app.add_option("-c,--connections", out.connections, "concurrent connections")
        ->capture_default_str()->check(CLI::Range(1u, kMaxConnections));
    app.add_option("--transactions-per-connection", out.transactions_per_connection,
                   "messages per connection before QUIT and reconnect (0 = unlimited)")->capture_default_str();
    app.add_flag("--pipelining", out.pipelining, "send MAIL/RCPT/DATA as one group (RFC 2920) when offered");
    app.add_flag("--bdat", out.bdat, "send BDAT n LAST instead of DATA (RFC 3030) when CHUNKING is offered");
    app.add_flag("--starttls", out.starttls, "upgrade every session with STARTTLS (RFC 3207) before mail; a full handshake each");
    auto* size_opt = app.add_option("--size", size, "message size in bytes (k/m suffixes), default 1024");
    auto* dist_opt = app.add_option("--size-dist", size_dist, "size distribution 'size:weight,size:weight'");
    size_opt->excludes(dist_opt);
    app.add_option("--recipients", out.recipients, "RCPT TO per message")
        ->capture_default_str()->check(CLI::Range(1u, kMaxRecipients));
    auto* msgs_opt = app.add_option("-n,--messages", out.messages, "messages to send (default 10000 if no --duration)");
    auto* dur_opt = app.add_option("-d,--duration", out.duration_s, "seconds to run (at most 3600)")
        ->check(CLI::Range(0.001, 3600.0));
    app.add_option("--rate", out.rate, "open loop: messages per second on a fixed schedule (default: closed loop)")
        ->check(CLI::Range(0.001, 1e8));
    app.add_option("-t,--threads", out.threads, "generator threads, one io_uring each")
        ->capture_default_str()->check(CLI::Range(1u, kMaxThreads));
    app.add_flag("--json", out.json, "print one JSON object instead of text");
    try {
        app.parse(argc, argv);
        out.port = static_cast<std::uint16_t>(port);
        if (!size.empty()) out.sizes = {{parse_size(size), 1}};
        if (!size_dist.empty()) out.sizes = parse_dist(size_dist);
        out.duration_given = dur_opt->count() > 0;
        if (msgs_opt->count() > 0 && out.messages == 0) throw std::invalid_argument("--messages must be at least 1");
        if (msgs_opt->count() == 0 && !out.duration_given) out.messages = kDefaultMessages;
        if (!out.duration_given) out.duration_s = kHardCapSeconds;
        if (out.threads > out.connections) out.threads = out.connections;
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ringmail-bench: %s\n", e.what());
        return 2;
    }
    return -1;
}

}  // namespace ringmail::bench
