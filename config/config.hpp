// config/config.hpp — server settings: mail.ini keys of the original module (port, local,
// tls_port, tls_crt, tls_key) plus ringmail's own (reactors, handler, limits, timeouts).
// Loading throws ConfigError with one line naming the file, line, key and problem.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "proto/limits.hpp"

namespace ringmail {

struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// [relay]: the outbound queue (issue 14).
// How the relay talks to the hosts it delivers to.
enum class RelayTls : std::uint8_t { None, Opportunistic, Verify };      // MX hosts
enum class SmarthostTls : std::uint8_t { None, StartTls, Smtps };        // the smarthost
// Whether messages are split into text/HTML and attachments while they arrive: auto does
// it only for handlers that read the split (on_mail that asked for it, print); on always
// (benchmarks, fuzzing); off never.
enum class MimeMode : std::uint8_t { Auto, On, Off };

struct RelayConfig {
    std::string queue_dir = "./queue";                 // queue.db and spool/ (relay/sqlite_store.hpp)
    std::uint64_t max_message_size = 8 * 1024 * 1024;  // queued messages over it are refused
    std::uint16_t mx_port = 25;                        // port of MX hosts (tests use others)
    // Address families tried at MX hosts (Postfix's inet_protocols): a host with IPv6
    // addresses on a machine without an IPv6 route costs a connect timeout each time.
    bool mx_ipv4 = true, mx_ipv6 = true;
    RelayTls tls = RelayTls::Opportunistic;
    std::string smarthost;                             // host:port; empty: deliver to MX hosts
    SmarthostTls smarthost_tls = SmarthostTls::None;
    std::string smarthost_user, smarthost_password;
    std::string ca_file;                               // PEM CAs to trust instead of the system's
    unsigned connections = 5;                          // open at once, all destinations
    unsigned connections_per_destination = 0;          // 0: as `connections`
    unsigned messages_per_connection = 100;
    unsigned connect_timeout = 30;                     // seconds for TCP connect
    unsigned reply_timeout = 0;  // seconds for every reply and body send (tests); 0: RFC 5321
                                 // 4.5.3.2's for each (relay::ClientTimeouts)
    std::int64_t retry_base = 300;                     // seconds: first retry (then doubling)
    std::int64_t retry_max = 4 * 3600;                 // seconds: longest wait between tries
    unsigned max_attempts = 0;                         // 0: only max_age ends retries
    std::int64_t max_age = 5 * 86400;                  // seconds in the queue before a bounce
    std::vector<std::string> relay_domains;            // accepted from anyone (lower case)
    std::vector<std::string> relay_networks = {"127.0.0.0/8", "::1/128"};  // may relay anywhere
    std::string resolver;  // DNS server host:port for MX lookups; empty = /etc/resolv.conf's
    bool dnssec = true;    // validate with the root trust anchor; when the file sets a resolver
                           // and no dnssec, off (a test server's unsigned private zone)
};

// [http]: the HTTP API (issue 15; http/), run by `ringmail serve` with handler = queue.
struct HttpConfig {
    std::string listen = "127.0.0.1:8025";  // ADDRESS:PORT or [V6]:PORT; empty: no HTTP API
    bool listen_given = false;              // the file or the command line set `listen`
    std::string host = "127.0.0.1";         // listen's address (numeric), empty when off
    std::uint16_t port = 8025;              // 0 picks a free port (printed at start)
    // When set, every request needs "Authorization: Bearer TOKEN". Required when `host` is
    // not a loopback address: the API queues mail for anyone who reaches it.
    std::string token;
    bool enabled() const noexcept { return !host.empty(); }
    bool loopback() const noexcept;         // host is in 127.0.0.0/8 or ::1
};

struct Config {
    std::uint16_t port = 2525;        // 0 picks a free port (printed at start)
    bool plain = true;                // listen on `port`; a mail.ini without `port` has no
                                      // plain listener, as the original module documents
    bool local = true;                // bind loopback only
    std::uint16_t tls_port = 0;       // implicit TLS; 0 = off
    bool tls_port_auto = false;       // tls_port = auto: a free port, printed at start (tests)
    std::string tls_crt, tls_key;     // PEM; with them the plain port offers STARTTLS
    unsigned tls_handshake_timeout = 30;  // seconds a client may take to finish the handshake
    bool auth_requires_tls = true;    // AUTH only over TLS, except from loopback
    std::string auth_users;           // name:HASH file checked by crypt(3); empty = any login
    unsigned reactors = 0;            // 0 = one per core
    std::string handler = "print";    // print | discard | maildir:DIR
    unsigned handler_threads = 0;     // 0 = one per core
    unsigned auth_threads = 2;        // threads that check logins (on_auth, auth_users)
    unsigned max_auth_failures_per_ip = 10;  // per 15 minutes (and reactor); then 454 at once
    unsigned handler_timeout = 120;   // seconds a handler may take per call; then 451 / 454
    unsigned handler_queue = 10000;   // jobs waiting for a handler; past it 451 4.3.2 (shed load)
    std::string hostname;             // EHLO/greeting name; empty = the machine's name
    unsigned max_connections = 10000; // per reactor; past it new clients get 421
    // Per client address and reactor (Postfix anvil style; 0 = off). 127.0.0.1 and ::1
    // are exempt, so a benchmark on this machine never meets them.
    unsigned max_connections_per_ip = 50;      // open at once
    unsigned max_new_connections_per_ip = 600; // per minute
    // Message bytes held in memory by all connections and handlers together (body text,
    // counted twice while the MIME split reads along); past it new MAIL gets 452 4.3.1 and
    // a message that would cross it is read to its end and answered 452 4.3.1. 0 = no cap.
    std::uint64_t max_inflight_bytes = std::uint64_t(512) << 20;
    unsigned shutdown_grace = 30;     // seconds transactions may take to finish at SIGTERM
    MimeMode mime = MimeMode::Auto;   // split messages into message/attachments (MimeMode)
    // A reactor's wait returns once this many completions are there, or after
    // completion_wait_us with at least one (Linux 6.12+; io::Ring::set_batching). 0: off.
    unsigned completion_batch = 0;
    unsigned completion_wait_us = 0;
    bool log_json = false;            // log_format = json: one JSON object per log line
    // One JSON object per line per message received, delivery attempt and bounce, appended
    // by a writer thread (never a reactor); reopened at SIGUSR1. Empty: none.
    std::string event_log;
    proto::Limits limits;
    RelayConfig relay;
    HttpConfig http;
};

// Reads `path`. When it does not exist: with `create_missing`, writes the defaults there
// first; otherwise throws (a mistyped --config must not silently get a new file).
Config load_config(const std::string& path, bool create_missing = true);
// Parses mail.ini text; errors name `name` and the line (the fuzz target's entry point).
Config parse_config_text(std::string_view text, const std::string& name);
// Sets one key from its text value, as the file and the command line do; `section` is
// "" (the server's keys), "relay" or "http".
void set_config_key(Config& c, const std::string& key, const std::string& value);
void set_config_key(Config& c, const std::string& section, const std::string& key, const std::string& value);
// Checks the whole config (handler syntax and the like).
void validate_config(const Config& c);
// The default mail.ini, with a comment on every key.
std::string default_config_text();

}  // namespace ringmail
