// relay/dns.hpp — MX resolution for the relay on libunbound's asynchronous API: a lookup
// of a domain is its MX query, then A and AAAA of each MX host (or of the domain itself:
// implicit MX, RFC 5321 5.1), assembled into one MxResult and cached with its TTL.
// Driven from the caller's loop: unbound's worker thread answers through a pipe, fd();
// when it is readable the loop calls process(), which runs the finished lookups' callbacks
// on the loop's thread. One Resolver per thread; nothing here is thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "relay/mx_cache.hpp"
#include "relay/mx_result.hpp"

struct ub_ctx;
struct ub_result;

namespace ringmail::relay {

struct ResolverOptions {
    // DNS server to forward every query to: "ADDRESS", "ADDRESS:PORT" or "[IPv6]:PORT"
    // (port 53 by default). Empty: the nameservers of /etc/resolv.conf.
    std::string resolver;
    // Validate with the root trust anchor in `trust_anchor_file`. Off: no anchor, answers
    // are taken as they come (a test server's unsigned private zone).
    bool dnssec = true;
    std::string trust_anchor_file = "/usr/share/dns/root.key";  // Debian's dns-root-data
    // One domain's whole lookup (MX, then addresses) may take this long; then expire()
    // answers TempFail. unbound's own retries stop later than this for a dead server.
    std::uint32_t timeout_ms = 30000;
    std::size_t cache_entries = 10000;     // whole answers we keep (MxCache)
    std::uint32_t max_ttl = 86400;         // a longer TTL is cut to a day
    std::uint32_t max_negative_ttl = 3600; // NXDOMAIN / no data: as unbound's cache-max-negative-ttl
    std::size_t max_hosts = 10;            // MX hosts whose addresses we look up (lowest preferences)
};

// "ADDRESS[:PORT]" / "[IPv6]:PORT" / bare IPv6 into unbound's "ADDRESS@PORT". Throws
// std::invalid_argument naming the value when it is not an IP address with a port 1-65535.
std::string unbound_forwarder(std::string_view host_port);

class Resolver {
public:
    // Called once per resolve(), on the thread that calls process() (or inside resolve()
    // for a cached answer). Must not throw and must not destroy the Resolver; it may call
    // resolve() again.
    using Callback = std::function<void(const MxResult&)>;

    // Throws std::runtime_error naming the cause (bad resolver, unreadable resolv.conf or
    // trust anchor, no unbound thread).
    explicit Resolver(const ResolverOptions& options);
    ~Resolver();  // lookups in flight are dropped: their callbacks are never called
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Readable when unbound has answers for process(). Fixed for the Resolver's life.
    int fd() const noexcept { return fd_; }
    // Takes every answer waiting on fd() and runs the callbacks of lookups now complete.
    // Never blocks. `now_ms`: the caller's monotonic clock (cache expiry, deadlines).
    void process(std::uint64_t now_ms) noexcept;
    // Starts looking `domain` up. A cached answer, a bad name or a failure to start calls
    // `done` before resolve() returns; otherwise process() calls it later. A domain already
    // being looked up shares that lookup. Hosts of equal preference come shuffled anew for
    // every callback.
    void resolve(std::string_view domain, std::uint64_t now_ms, Callback done) noexcept;
    // Fails (TempFail, "timeout") every lookup started more than timeout_ms before
    // `now_ms`. Call it from a periodic timer (the reactor's one-second tick).
    void expire(std::uint64_t now_ms) noexcept;
    std::size_t in_flight() const noexcept { return lookups_.size(); }
    std::size_t cached() const noexcept { return cache_.size(); }

    // Blocking: resolve() and poll(2) on fd() until the answer comes or timeout_ms passes.
    // For the command line and tests, never on a reactor.
    MxResult resolve_sync(std::string_view domain);

private:
    struct Lookup;
    struct Query;
    static void on_answer(void* data, int err, ub_result* result);
    void answer(Query& q, int err, ub_result* r) noexcept;
    bool start_query(Lookup& l, const std::string& name, int rrtype, int host) noexcept;
    void on_mx(Lookup& l, int err, const ub_result* r) noexcept;
    void on_address(Lookup& l, int host, int rrtype, int err, const ub_result* r) noexcept;
    void finish(Lookup& l, std::uint64_t now_ms) noexcept;
    void deliver(MxResult r, std::vector<Callback>& waiters) noexcept;

    ResolverOptions options_;
    ub_ctx* ctx_ = nullptr;
    int fd_ = -1;
    std::uint64_t now_ms_ = 0;  // the latest time the caller gave us
    MxCache cache_;
    std::mt19937_64 rng_;
    std::unordered_map<std::string, std::unique_ptr<Lookup>> lookups_;  // by domain
    // Every query unbound may still call back for. A node's address is the query's
    // `mydata`; it stays until the callback came or ub_cancel succeeded.
    std::unordered_map<std::uint64_t, Query> queries_;
    std::uint64_t next_query_ = 1;
};

// Resolver(options).resolve_sync(domain): the command line's `ringmail mx`.
MxResult resolve_mx_sync(const ResolverOptions& options, std::string_view domain);

}  // namespace ringmail::relay
