// config/config.cpp — mail.ini through inih, one table of keys, strict values: an
// unknown key or a value out of range is an error, not silently ignored.
#include "config/config.hpp"

#include <arpa/inet.h>
#include <ini.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <span>
#include <string_view>

#include "base/ascii.hpp"
#include "base/duration.hpp"

namespace ringmail {
namespace {

std::string shown(std::string_view v) { return base::quoted(v); }

std::uint64_t parse_number(const std::string& key, const std::string& v, std::uint64_t lo, std::uint64_t hi) {
    std::uint64_t n = 0;
    std::uint64_t scale = 1;
    std::string_view s = v;
    if (!s.empty()) {
        switch (s.back()) {  // sizes may say k, M or G
        case 'k': case 'K': scale = 1024; break;
        case 'm': case 'M': scale = 1024 * 1024; break;
        case 'g': case 'G': scale = 1024 * 1024 * 1024; break;
        default: break;
        }
        if (scale != 1) s.remove_suffix(1);
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size() ||
        n > std::numeric_limits<std::uint64_t>::max() / scale || n * scale < lo || n * scale > hi)
        throw ConfigError("bad value for " + key + ": " + shown(v) + " (expected a number from " +
                          std::to_string(lo) + " to " + std::to_string(hi) + ")");
    return n * scale;
}

bool parse_bool(const std::string& key, const std::string& v) {
    if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
    if (v == "false" || v == "no" || v == "off" || v == "0") return false;
    throw ConfigError("bad value for " + key + ": " + shown(v) + " (expected true or false)");
}

template <class E>
E pick(const std::string& key, const std::string& v, std::initializer_list<std::pair<const char*, E>> names) {
    std::string expected;
    for (const auto& [name, value] : names) {
        if (v == name) return value;
        expected += (expected.empty() ? "" : ", ") + std::string(name);
    }
    throw ConfigError("bad value for " + key + ": " + shown(v) + " (expected " + expected + ")");
}

std::int64_t duration(const std::string& key, const std::string& v, std::int64_t lo, std::int64_t hi) {
    const base::DurationParse d = base::parse_duration(v);
    if (d.error != base::DurationError::None)
        throw ConfigError("bad value for " + key + ": " + shown(v) + " (" + std::string(base::describe(d.error)) + ")");
    if (d.seconds < lo || d.seconds > hi)
        throw ConfigError("bad value for " + key + ": " + shown(v) + " (expected " + std::to_string(lo) + " to " +
                          std::to_string(hi) + " seconds)");
    return d.seconds;
}

// A comma-separated list; items trimmed, empty ones dropped.
std::vector<std::string> list(std::string_view v, bool lower) {
    std::vector<std::string> out;
    while (!v.empty()) {
        const std::size_t comma = v.find(',');
        std::string_view item = v.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (!item.empty()) out.push_back(lower ? base::to_lower(item) : std::string(item));
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
    }
    return out;
}

// "192.0.2.0/24", "2001:db8::/32" or a single address.
bool valid_network(const std::string& n) {
    const std::size_t slash = n.find('/');
    const std::string addr = n.substr(0, slash);
    unsigned char buf[16];
    const bool v4 = ::inet_pton(AF_INET, addr.c_str(), buf) == 1;
    const bool v6 = !v4 && ::inet_pton(AF_INET6, addr.c_str(), buf) == 1;
    if (!v4 && !v6) return false;
    if (slash == std::string::npos) return true;
    const std::string bits = n.substr(slash + 1);
    unsigned b = 0;
    auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), b);
    return !bits.empty() && ec == std::errc{} && p == bits.data() + bits.size() && b <= (v4 ? 32u : 128u);
}

using Setter = std::function<void(Config&, const std::string& key, const std::string& v)>;

struct Key {
    const char* name;
    Setter set;
};

template <class T>
Setter number(T Config::*field, std::uint64_t lo, std::uint64_t hi) {
    return [=](Config& c, const std::string& k, const std::string& v) { c.*field = static_cast<T>(parse_number(k, v, lo, hi)); };
}
template <class T>
Setter limit(T proto::Limits::*field, std::uint64_t lo, std::uint64_t hi, std::uint64_t scale = 1) {
    return [=](Config& c, const std::string& k, const std::string& v) {
        c.limits.*field = static_cast<T>(parse_number(k, v, lo, hi) * scale);
    };
}

const Key keys[] = {
    {"port", [](Config& c, const std::string& k, const std::string& v) {
         c.port = static_cast<std::uint16_t>(parse_number(k, v, 0, 65535));
         c.plain = true;
     }},
    {"local", [](Config& c, const std::string& k, const std::string& v) { c.local = parse_bool(k, v); }},
    {"tls_port", [](Config& c, const std::string& k, const std::string& v) {
         c.tls_port_auto = v == "auto";
         c.tls_port = c.tls_port_auto ? 0 : static_cast<std::uint16_t>(parse_number(k, v, 0, 65535));
     }},
    {"tls_handshake_timeout", number(&Config::tls_handshake_timeout, 1, 3600)},
    {"auth_users", [](Config& c, const std::string&, const std::string& v) { c.auth_users = v; }},
    {"auth_requires_tls", [](Config& c, const std::string& k, const std::string& v) { c.auth_requires_tls = parse_bool(k, v); }},
    {"tls_crt", [](Config& c, const std::string&, const std::string& v) { c.tls_crt = v; }},
    {"tls_key", [](Config& c, const std::string&, const std::string& v) { c.tls_key = v; }},
    {"reactors", number(&Config::reactors, 0, 256)},
    {"handler", [](Config& c, const std::string&, const std::string& v) { c.handler = v; }},
    {"handler_threads", number(&Config::handler_threads, 0, 1024)},
    {"handler_timeout", number(&Config::handler_timeout, 1, 86400)},
    {"auth_threads", number(&Config::auth_threads, 1, 256)},
    {"max_auth_failures", limit(&proto::Limits::max_auth_failures, 1, 1000)},
    {"max_auth_failures_per_ip", number(&Config::max_auth_failures_per_ip, 1, 100000)},
    {"handler_queue", number(&Config::handler_queue, 1, 60000)},
    {"hostname", [](Config& c, const std::string&, const std::string& v) { c.hostname = v; }},
    {"max_connections", number(&Config::max_connections, 1, 1000000)},
    {"max_connections_per_ip", number(&Config::max_connections_per_ip, 0, 1000000)},
    {"max_new_connections_per_ip", number(&Config::max_new_connections_per_ip, 0, 100000000)},
    {"shutdown_grace", number(&Config::shutdown_grace, 0, 3600)},
    {"log_format", [](Config& c, const std::string& k, const std::string& v) {
         if (v != "text" && v != "json") throw ConfigError("bad value for " + k + ": " + shown(v) + " (expected text or json)");
         c.log_json = v == "json";
     }},
    {"event_log", [](Config& c, const std::string&, const std::string& v) { c.event_log = v; }},
    {"completion_batch", [](Config& c, const std::string& k, const std::string& v) {
         // "off", or COUNT/MICROSECONDS: "32/200" waits for 32 completions or 200 us.
         if (v == "off" || v == "0") {
             c.completion_batch = c.completion_wait_us = 0;
             return;
         }
         const std::size_t slash = v.find('/');
         if (slash == std::string::npos)
             throw ConfigError("bad value for " + k + ": " + shown(v) + " (expected off or COUNT/MICROSECONDS)");
         c.completion_batch = static_cast<unsigned>(parse_number(k, v.substr(0, slash), 2, 4096));
         c.completion_wait_us = static_cast<unsigned>(parse_number(k, v.substr(slash + 1), 1, 1000000));
     }},
    {"mime", [](Config& c, const std::string& k, const std::string& v) {
         // true/false (and yes/no, 1/0) are the older spelling of on/off.
         if (v == "auto") c.mime = MimeMode::Auto;
         else if (v == "on" || v == "off") c.mime = v == "on" ? MimeMode::On : MimeMode::Off;
         else try {
             c.mime = parse_bool(k, v) ? MimeMode::On : MimeMode::Off;
         } catch (const ConfigError&) {
             throw ConfigError("bad value for " + k + ": " + shown(v) + " (expected auto, on or off)");
         }
     }},
    {"max_inflight_bytes", number(&Config::max_inflight_bytes, 0, std::uint64_t(1) << 40)},
    {"max_message_size", limit(&proto::Limits::max_message_size, 1024, std::uint64_t(1) << 32)},
    {"max_recipients", limit(&proto::Limits::max_recipients, 1, 100000)},
    {"max_errors", limit(&proto::Limits::max_errors, 1, 10000)},
    {"timeout_command", limit(&proto::Limits::command_timeout_ms, 1, 3600, 1000)},
    {"timeout_data", limit(&proto::Limits::data_timeout_ms, 1, 3600, 1000)},
};

// [relay]: the outbound queue's keys, added as relay/ grows (issue 14 lists them all).
const Key relay_keys[] = {
    {"queue_dir", [](Config& c, const std::string& k, const std::string& v) {
         if (v.empty()) throw ConfigError("bad value for " + k + ": empty (expected a directory)");
         c.relay.queue_dir = v;
     }},
    {"max_message_size", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.max_message_size = parse_number(k, v, 1024, std::uint64_t(1) << 32);
     }},
    {"mx_port", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.mx_port = static_cast<std::uint16_t>(parse_number(k, v, 1, 65535));
     }},
    {"tls", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.tls = pick<RelayTls>(k, v, {{"none", RelayTls::None}, {"opportunistic", RelayTls::Opportunistic},
                                             {"verify", RelayTls::Verify}});
     }},
    {"smarthost", [](Config& c, const std::string& k, const std::string& v) {
         if (!v.empty() && (v.rfind(':') == std::string::npos || v.rfind(':') == 0 || v.back() == ':'))
             throw ConfigError("bad value for " + k + ": " + shown(v) + " (expected host:port)");
         if (!v.empty()) (void)parse_number(k, v.substr(v.rfind(':') + 1), 1, 65535);
         c.relay.smarthost = v;
     }},
    {"smarthost_tls", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.smarthost_tls = pick<SmarthostTls>(k, v, {{"none", SmarthostTls::None},
                                                           {"starttls", SmarthostTls::StartTls},
                                                           {"smtps", SmarthostTls::Smtps}});
     }},
    {"ca_file", [](Config& c, const std::string&, const std::string& v) { c.relay.ca_file = v; }},
    {"smarthost_user", [](Config& c, const std::string&, const std::string& v) { c.relay.smarthost_user = v; }},
    {"smarthost_password", [](Config& c, const std::string&, const std::string& v) { c.relay.smarthost_password = v; }},
    {"connections", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.connections = static_cast<unsigned>(parse_number(k, v, 1, 10000));
     }},
    {"connections_per_destination", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.connections_per_destination = static_cast<unsigned>(parse_number(k, v, 0, 10000));
     }},
    {"messages_per_connection", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.messages_per_connection = static_cast<unsigned>(parse_number(k, v, 1, 1000000));
     }},
    {"connect_timeout", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.connect_timeout = static_cast<unsigned>(duration(k, v, 1, 3600));
     }},
    {"reply_timeout", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.reply_timeout = static_cast<unsigned>(duration(k, v, 0, 3600));
     }},
    {"retry_base", [](Config& c, const std::string& k, const std::string& v) { c.relay.retry_base = duration(k, v, 1, 86400); }},
    {"retry_max", [](Config& c, const std::string& k, const std::string& v) { c.relay.retry_max = duration(k, v, 1, 30 * 86400); }},
    {"max_attempts", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.max_attempts = static_cast<unsigned>(parse_number(k, v, 0, 100000));
     }},
    {"max_age", [](Config& c, const std::string& k, const std::string& v) { c.relay.max_age = duration(k, v, 0, 365 * 86400); }},
    {"relay_domains", [](Config& c, const std::string&, const std::string& v) { c.relay.relay_domains = list(v, true); }},
    {"relay_networks", [](Config& c, const std::string& k, const std::string& v) {
         c.relay.relay_networks = list(v, false);
         for (const auto& n : c.relay.relay_networks)
             if (!valid_network(n)) throw ConfigError("bad value for " + k + ": " + shown(n) + " (expected an address or address/bits)");
     }},
    // The DNS server the relay asks for MX and addresses: an IP address with an optional
    // port (relay/dns.cpp reads it and names a bad one when the resolver starts).
    {"resolver", [](Config& c, const std::string& k, const std::string& v) {
         if (v.empty()) throw ConfigError("bad value for " + k + ": empty (expected ADDRESS[:PORT])");
         c.relay.resolver = v;
     }},
    {"inet_protocols", [](Config& c, const std::string& k, const std::string& v) {
         if (v != "all" && v != "ipv4" && v != "ipv6")
             throw ConfigError("bad value for " + k + ": " + shown(v) + " (expected all, ipv4 or ipv6)");
         c.relay.mx_ipv4 = v != "ipv6";
         c.relay.mx_ipv6 = v != "ipv4";
     }},
    {"dnssec", [](Config& c, const std::string& k, const std::string& v) {
         if (v != "on" && v != "off") throw ConfigError("bad value for " + k + ": " + shown(v) + " (expected on or off)");
         c.relay.dnssec = v == "on";
     }},
};

// "127.0.0.1:8025", "[::1]:8025", "0.0.0.0:0"; the address numeric (a name could resolve
// to something else tomorrow, and the token rule below needs to know what it is).
void set_http_listen(Config& c, const std::string& k, const std::string& v) {
    c.http.listen = v;
    c.http.listen_given = true;
    c.http.host.clear();
    if (v.empty()) return;  // no HTTP API
    const std::size_t colon = v.rfind(':');
    std::string host = colon == std::string::npos ? std::string() : v.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned char buf[16];
    const bool v4 = ::inet_pton(AF_INET, host.c_str(), buf) == 1;
    const bool bracketed = colon != std::string::npos && colon > 0 && v[0] == '[' && v[colon - 1] == ']';
    if (colon == std::string::npos || !(v4 != bracketed) || (!v4 && ::inet_pton(AF_INET6, host.c_str(), buf) != 1))
        throw ConfigError("bad value for " + k + ": " + shown(v) +
                          " (expected ADDRESS:PORT such as 127.0.0.1:8025 or [::1]:8025, or empty for none)");
    c.http.port = static_cast<std::uint16_t>(parse_number(k, v.substr(colon + 1), 0, 65535));
    c.http.host = host;
}

// [http]: the HTTP API (http/server.hpp).
const Key http_keys[] = {
    {"listen", set_http_listen},
    {"token", [](Config& c, const std::string&, const std::string& v) { c.http.token = v; }},
};

// mail.ini sections and their keys. Keys before any section header are the server's (as
// the original module's mail.ini has them); `[server]` names the same keys explicitly.
// `[relay]` and `[http]` are the outbound queue's and the HTTP API's.
struct Section {
    const char* name;
    std::span<const Key> keys;
};
const Section sections[] = {
    {"", keys},
    {"server", keys},
    {"relay", relay_keys},
    {"http", http_keys},
};

const Section* find_section(std::string_view name) {
    for (const auto& sec : sections)
        if (name == sec.name) return &sec;
    return nullptr;
}

void set_key(const Section& sec, Config& c, const std::string& key, const std::string& value) {
    for (const auto& k : sec.keys) {
        if (key == k.name) {
            k.set(c, key, value);
            return;
        }
    }
    if (!*sec.name) throw ConfigError("unknown key " + shown(key));
    throw ConfigError("unknown key " + shown(key) + " in [" + sec.name + "]");
}

struct ParseState {
    Config* config;
    std::string error;  // the first one: inih goes on after an error and returns its line
    bool relay_dnssec = false;  // [relay] dnssec was given
};

int on_ini_entry(void* user, const char* section, const char* name, const char* value) {
    auto* st = static_cast<ParseState*>(user);
    try {
        const Section* sec = find_section(section ? section : "");
        if (!sec)
            throw ConfigError("unknown section " + shown(section) + " (expected server, relay or http; "
                              "server keys may also stand before any section)");
        set_key(*sec, *st->config, name, value ? value : "");
        if (sec->keys.data() == relay_keys && std::string_view(name) == "dnssec") st->relay_dnssec = true;
    } catch (const ConfigError& e) {
        if (st->error.empty()) st->error = e.what();
        return 0;
    }
    return 1;
}

}  // namespace

void set_config_key(Config& c, const std::string& key, const std::string& value) { set_key(sections[0], c, key, value); }

void set_config_key(Config& c, const std::string& section, const std::string& key, const std::string& value) {
    const Section* sec = find_section(section);
    if (!sec) throw ConfigError("unknown section " + shown(section));
    set_key(*sec, c, key, value);
}

bool HttpConfig::loopback() const noexcept {
    unsigned char a[16];
    if (::inet_pton(AF_INET, host.c_str(), a) == 1) return a[0] == 127;
    static constexpr unsigned char v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return ::inet_pton(AF_INET6, host.c_str(), a) == 1 && std::memcmp(a, v6_loopback, sizeof a) == 0;
}

void validate_config(const Config& c) {
    const std::string& h = c.handler;
    if (h != "print" && h != "discard" && h != "queue" && !(h.rfind("maildir:", 0) == 0 && h.size() > 8))
        throw ConfigError("bad value for handler: " + shown(h) + " (expected print, discard, queue or maildir:DIR)");
    if (c.tls_crt.empty() != c.tls_key.empty())
        throw ConfigError("tls_crt and tls_key must be set together");
    if (c.tls_port != 0 && c.tls_port == c.port)
        throw ConfigError("tls_port and port must differ");
    if ((c.tls_port != 0 || c.tls_port_auto) && c.tls_crt.empty())
        throw ConfigError("tls_port needs tls_crt and tls_key");
    // The inject API queues mail for whoever reaches it: beyond loopback only with a token.
    if (c.http.enabled() && !c.http.loopback() && c.http.token.empty())
        throw ConfigError("[http] listen = " + c.http.listen +
                          " reaches beyond loopback without a token: set [http] token (clients then send "
                          "\"Authorization: Bearer TOKEN\"), or listen on 127.0.0.1");
}

std::string default_config_text() {
    return R"(; ringmail server settings. Delete this file to get the defaults back.
; SMTP port. With tls_crt/tls_key set, STARTTLS is offered here too. Without a port
; line there is no plain listener (then set tls_port).
port = 2525
; true: listen on loopback only; false: on every address.
local = true
; Implicit TLS (SMTPS) port and the certificate and key (PEM).
;tls_port = 465
;tls_crt = server.crt
;tls_key = server.key
; Seconds a client may take to finish the TLS handshake.
tls_handshake_timeout = 30
; Offer AUTH only over TLS (loopback clients may always authenticate).
auth_requires_tls = true
; Logins allowed: lines name:HASH (openssl passwd -6, mkpasswd); reread on SIGHUP.
; Unset: every login is accepted (or a program's own on_auth decides).
;auth_users = users.txt

; What happens to received mail: print, discard or maildir:DIR
handler = print
; Reactor threads (0: one per core) and handler threads (0: one per core).
reactors = 0
handler_threads = 0
; Seconds a handler may take for one mail, recipient or login (then 451 or 454), and how
; many jobs may wait for a handler before new ones get 451 4.3.2 (shed load).
handler_timeout = 120
; Threads that check logins, apart from the handlers: a flood of slow password hashes
; then delays only other logins.
auth_threads = 2
; Failed logins: per session before 421 and close, and per client address within 15
; minutes before further logins from it get 454 without a check. Each failure also
; delays the reply by a second more (up to 5).
max_auth_failures = 3
max_auth_failures_per_ip = 10
handler_queue = 10000
; Name in the greeting and trace fields (empty: this machine's name).
;hostname = mx.example.com

; Limits. Sizes take k, M or G; timeouts are in seconds (RFC 5321 4.5.3.2).
max_message_size = 10M
; Message bytes held in memory by all clients and handlers together; past it new mail
; gets 452 4.3.1 (try again later) until memory frees. 0: no cap.
max_inflight_bytes = 512M
max_recipients = 1000
max_errors = 20
max_connections = 10000
; Per client address (127.0.0.1 and ::1 exempt; 0 turns a limit off): connections open at
; once, and new connections per minute. Past them: 421 4.7.0.
max_connections_per_ip = 50
max_new_connections_per_ip = 600
timeout_command = 300
timeout_data = 300
; Log lines on stderr (one per connection, message and failure): text or json.
log_format = text
; A file that gets one JSON object per line for each message received (accepted or
; refused), delivery attempt and bounce; reopened at SIGUSR1 (logrotate). Empty: none.
;event_log = events.jsonl
; Seconds that transactions in flight may take to finish after SIGTERM.
shutdown_grace = 30
; Completion batching (Linux 6.12 or later): a reactor's wait returns once COUNT
; completions are there, or after MICROSECONDS with at least one, e.g. 32/200. off: each
; wait returns at the first completion (docs/BENCHMARKS.md: what it costs and saves).
completion_batch = off
; Split each message into its text/HTML body and attachments while it arrives: auto
; does it only for a handler that reads them (print, or an on_mail that asked for them;
; never discard, maildir or queue); on always; off never (header fields are still read).
mime = auto

[relay]
; The outbound queue (handler = queue, and `ringmail queue`): its directory, and the
; largest message it takes.
queue_dir = ./queue
max_message_size = 8M
; Delivery: to each domain's MX hosts on mx_port (STARTTLS when offered; verify: only to
; hosts with a valid certificate for their name), or everything through a smarthost.
mx_port = 25
tls = opportunistic
; Address families of MX hosts to connect to: all, ipv4 or ipv6.
inet_protocols = all
; DNS server for MX lookups (ADDRESS[:PORT]; unset: /etc/resolv.conf's), and DNSSEC
; validation with the system's root trust anchor (default on; off by default when
; resolver is set, for a private unsigned zone).
;resolver = 127.0.0.1:53
;dnssec = on
;smarthost = smtp.example.com:587
;smarthost_tls = starttls
;smarthost_user = user
;smarthost_password = secret
; Certificates of the smarthost (and, with tls = verify, of MX hosts) are checked against
; the system's CAs, or these.
;ca_file = /etc/ssl/certs/ca-certificates.crt
; Connections open at once (and per destination; 0: the same), messages per connection.
connections = 5
connections_per_destination = 0
messages_per_connection = 100
connect_timeout = 30s
; Retries: after retry_base, doubling up to retry_max, with jitter; give up (bounce) after
; max_age in the queue or max_attempts tries (0: no limit on tries).
retry_base = 5m
retry_max = 4h
max_attempts = 0
max_age = 5d
; Who may relay (handler = queue): any recipient from relay_networks or logged-in
; clients; recipients in relay_domains from anyone; the rest get 554 5.7.1.
;relay_domains = example.com, example.org
relay_networks = 127.0.0.0/8, ::1

[http]
; The HTTP API (injection and queue; runs with handler = queue): ADDRESS:PORT, [V6]:PORT,
; or empty for none (default 127.0.0.1:8025). Beyond loopback a token is required.
;listen = 127.0.0.1:8025
; When set, every request needs the header "Authorization: Bearer TOKEN".
;token = a-long-random-secret
)";
}

Config parse_config_text(std::string_view text, const std::string& name) {
    // inih reads a C string: a NUL would silently end the file early.
    if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
        const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(nul), '\n');
        throw ConfigError(name + ":" + std::to_string(line) + ": NUL byte in the file");
    }
    Config c;
    c.plain = false;  // until the file sets `port`
    const std::string copy(text);
    ParseState state{&c, {}};
    const int rc = ini_parse_string(copy.c_str(), on_ini_entry, &state);
    if (rc < 0) throw ConfigError(name + ": out of memory");
    if (!state.error.empty()) throw ConfigError(name + ":" + std::to_string(rc) + ": " + state.error);
    if (rc > 0) throw ConfigError(name + ":" + std::to_string(rc) + ": syntax error");
    // Issue 14: dnssec = on is the default while the system's resolvers are used; a file
    // that names its own resolver (a test server with an unsigned private zone, where the
    // root anchor would make every answer bogus) gets off unless it says dnssec = on.
    if (!state.relay_dnssec && !c.relay.resolver.empty()) c.relay.dnssec = false;
    try {
        validate_config(c);
    } catch (const ConfigError& e) {
        throw ConfigError(name + ": " + e.what());
    }
    return c;
}

Config load_config(const std::string& path, bool create_missing) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
        if (!create_missing)
            throw ConfigError(path + ": no such file (ringmail serve --init writes the defaults there)");
        std::ofstream out(path);
        out << default_config_text();
        if (!out) throw ConfigError(path + ": cannot write the default config");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path + ": cannot read");
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) throw ConfigError(path + ": cannot read");
    return parse_config_text(text, path);
}

}  // namespace ringmail
