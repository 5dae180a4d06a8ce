// relay/relay.cpp — the delivery engine's thread. Per turn: completions of the outbound
// connections drive their client sessions; then, when the tick or a poke asks, due
// messages are taken from the store (as many as the engine may hold); new connections are
// opened where deliveries wait; the turn's results (and bounces) are written to the store
// in one transaction each; the turn's log lines in one write.
#include "relay/relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>

#include "base/date.hpp"
#include "base/log.hpp"
#include "io/buffer_ring.hpp"
#include "io/mailbox.hpp"
#include "io/fd_poll.hpp"
#include "io/ring.hpp"
#include "io/slot_table.hpp"
#include "io/stream.hpp"
#include "io/tls_context.hpp"
#include "mime/dsn.hpp"
#include "proto/client_session.hpp"
#include "relay/dns.hpp"
#include "relay/queue_wake.hpp"
#include "relay/host_lookup.hpp"
#include "relay/retry.hpp"

namespace ringmail::relay {

std::string Target::ip() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, buf, sizeof buf);
    else if (addr.ss_family == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, buf, sizeof buf);
    return buf;
}

namespace {

constexpr unsigned kBufCount = 64;
constexpr unsigned kBufSize = 16 * 1024;   // replies are small
constexpr std::uint64_t kHandshakeMs = 60'000;
constexpr Time kMaxSuspendSeconds = 60;  // a destination no host of which answered
constexpr Time kRouteCacheSeconds = 60;   // DNS TTLs are the resolver's; this only spares lookups
constexpr std::uint64_t kHostLookupMs = 30'000;  // the smarthost's name, as an MX lookup's limit
// A connection with nothing to send waits this long for the next message to its
// destination before QUIT (as Postfix's connection cache): a stream of messages arriving
// one by one then shares connections instead of opening one each.
constexpr std::uint64_t kIdleMs = 2000;

Time now_s() { return static_cast<Time>(std::time(nullptr)); }

// A message to one destination: the recipients of one message that go to the same place.
struct Delivery {
    MessageId id;
    Priority priority = Priority::Medium;
    Time created = 0;
    bool chunked = false;  // this attempt's body went with BDAT (RFC 3030); for the log
    std::string sender;
    std::vector<std::string> rcpts;
    std::vector<std::uint32_t> index;     // the recipients' numbers in the store
    std::vector<std::uint32_t> attempts;  // tries before this one
};

struct Destination {
    // Lower-case domain, "[address literal]", "?" (no domain), "" for [relay] smarthost, or
    // kOwnRoute + MessageRoute::encode() for messages with a smarthost of their own.
    std::string key;
    std::optional<MessageRoute> via;             // a smarthost: the relay's or the message's
    std::unique_ptr<HostLookup> lookup;          // its name to addresses (a smarthost only)
    std::array<std::deque<Delivery>, 3> waiting;  // by priority, oldest first
    unsigned open = 0;                           // connections
    Route route;
    Time routed_until = 0;                       // route cached until then
    bool routing = false;                        // an MX lookup is under way
    // No host could be reached: until then new deliveries are deferred without a
    // connection each (Postfix's "delivery temporarily suspended").
    Time suspended_until = 0;
    std::string suspended_why;
    std::size_t waiting_count() const noexcept { return waiting[0].size() + waiting[1].size() + waiting[2].size(); }
    std::string name() const { return via ? via->label() : key; }  // for logs: never the password
};

// The first octet of a destination key for a message's own smarthost (no domain has it).
constexpr char kOwnRoute = '\x01';

struct Link {
    Link(io::SlotId name, io::Ring& ring, io::BufferRing& buffers, std::uint8_t handler)
        : id(name), stream(ring, buffers, handler, name.pack()) {}
    io::SlotId id;
    io::Stream stream;
    Destination* dest = nullptr;  // std::map nodes do not move
    std::vector<Target> targets;
    std::size_t target = 0;
    std::unique_ptr<proto::ClientSession> session;
    bool connected = false;
    bool ready_once = false;   // reached Ready: no falling back to the next host after that
    bool quitting = false;
    bool closed = false;
    unsigned sent = 0;
    std::optional<Delivery> current;
    std::string headers;       // the current message's header section, for a bounce
    std::string in, out;
    std::uint64_t deadline_ms = 0;
    std::uint64_t sent_mark = 0;   // stream.bytes_sent() when the deadline was set
    std::uint64_t idle_since = 0;  // Ready with nothing to send, since then (0: busy)
    const Target& host() const { return targets[target]; }
};

// The header section of a message, for the bounce (which returns no body).
std::string header_section(std::string_view m) {
    const std::size_t end = m.find("\r\n\r\n");
    return std::string(m.substr(0, end == std::string_view::npos ? m.size() : end + 2));
}

// The body read into `out` (whose capacity the engine keeps from message to message). Read,
// not mapped: unmapping a body in this many-threaded process costs every other CPU a TLB
// shootdown, which was 44 % of the engine's time at 100 KiB messages (perf, in a VM).
bool read_body(Store& store, MessageId id, std::string& out) {
    Body body;
    if (!store.open_body(id, body)) return false;
    out.resize(body.size());
    std::size_t got = 0;
    while (got < out.size()) {
        const ssize_t n =
            ::pread(body.fd(), out.data() + got, out.size() - got, static_cast<off_t>(body.offset() + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
    }
    return true;
}

// host:port, [v6]:port.
bool split_host_port(const std::string& s, std::string& host, std::string& port) {
    const std::size_t colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return !host.empty() && !port.empty();
}

// `host` at an IPv4 (4 bytes) or IPv6 (16 bytes) address in network order, on `port`.
Target make_target(std::string host, const std::uint8_t* bytes, std::size_t size, std::uint16_t port) {
    Target t;
    t.host = std::move(host);
    if (size == 16) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&t.addr);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        std::memcpy(&s6->sin6_addr, bytes, 16);
        t.len = sizeof(sockaddr_in6);
    } else {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&t.addr);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        std::memcpy(&s4->sin_addr, bytes, 4);
        t.len = sizeof(sockaddr_in);
    }
    return t;
}

// An address literal (RFC 5321 4.1.3): [192.0.2.1] or [IPv6:2001:db8::1].
std::optional<Target> literal_target(std::string_view key, std::uint16_t port) {
    if (key.size() < 3 || key.front() != '[' || key.back() != ']') return std::nullopt;
    const std::string a(key.substr(1, key.size() - 2));
    std::uint8_t bytes[16];
    if (a.size() > 5 && (a.compare(0, 5, "IPv6:") == 0 || a.compare(0, 5, "ipv6:") == 0)) {
        if (::inet_pton(AF_INET6, a.c_str() + 5, bytes) != 1) return std::nullopt;
        return make_target(std::string(key), bytes, 16, port);
    }
    if (::inet_pton(AF_INET, a.c_str(), bytes) != 1) return std::nullopt;
    return make_target(std::string(key), bytes, 4, port);
}

}  // namespace

struct Relay::Engine final : io::Handler {
    Engine(const RelayConfig& c, std::unique_ptr<Store> s, std::string host)
        : cfg(c), store(std::move(s)), hostname(std::move(host)), ring(512),
          id(ring.add(*this)), inbox(ring, 64), tick(ring, 1000, [this] { on_tick(); }),
          rng(std::random_device{}()) {
        buffers.emplace(ring.raw(), kBufCount, kBufSize, 0);
        policy.base = cfg.retry_base;
        policy.max = cfg.retry_max;
        policy.max_attempts = cfg.max_attempts;
        policy.max_age = cfg.max_age;
        if (cfg.reply_timeout) timeouts = ClientTimeouts::all(std::uint64_t(cfg.reply_timeout) * 1000);
        per_destination = cfg.connections_per_destination ? cfg.connections_per_destination : cfg.connections;
        max_held = std::max<std::size_t>(100, std::size_t(cfg.connections) * cfg.messages_per_connection * 2);
        if (!cfg.smarthost.empty()) {
            relay_smarthost.emplace();  // a host left empty: "bad smarthost" at routing
            relay_smarthost->tls = cfg.smarthost_tls;
            relay_smarthost->user = cfg.smarthost_user;
            relay_smarthost->password = cfg.smarthost_password;
            std::string host, port;
            unsigned n = 0;
            if (split_host_port(cfg.smarthost, host, port) &&
                std::from_chars(port.data(), port.data() + port.size(), n).ptr == port.data() + port.size() && n > 0 &&
                n < 65536) {
                relay_smarthost->host = host;
                relay_smarthost->port = static_cast<std::uint16_t>(n);
            }
        }
    }

    void run();
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override;

    // Scheduling.
    void poll();        // what is due, highest priority first (a page)
    void poll_newer();  // what is due and newer than newest_seen
    void take_due(const std::vector<ScheduleEntry>& due);
    void take(const ScheduleEntry& e);
    std::string destination_of(const std::string& address, const std::optional<MessageRoute>& route) const;
    bool ensure_route(Destination& d);
    void set_route(Destination& d, Route r);
    void take_lookups();
    void on_mx(const std::string& key, const MxResult& r);
    void start_links();
    // Connections.
    void open_link(Destination& d, std::vector<Target> targets, std::size_t target);
    void on_stream(Link& l, io::StreamEvent ev, std::string_view bytes);
    void begin_session(Link& l);
    void drive(Link& l);
    void arm_wait(Link& l);
    std::uint64_t wait_ms(const Link& l) const;
    std::string timeout_reason(const Link& l) const;
    bool take_next(Link& l);
    void finish_delivery(Link& l);
    void link_failed(Link& l, const std::string& why);
    void close_link(Link& l);
    void reap();
    void on_tick();
    // Results.
    void fail_waiting(Destination& d, Outcome o, const std::string& why, const std::string& status);
    void decide(Delivery& d, std::size_t i, Outcome o, std::string reply, const std::string& remote,
                std::vector<mime::DsnRecipient>& bounce, const std::string& status = {});
    void done_with(Delivery& d, const std::vector<mime::DsnRecipient>& bounce, const std::string& headers);
    void write_results();
    void log_attempt(const Delivery& d, std::size_t i, std::string_view status, std::string_view reply,
                     const std::string& remote);

    RelayConfig cfg;
    std::unique_ptr<Store> store;
    std::string hostname;
    RetryPolicy policy;
    ClientTimeouts timeouts;
    unsigned per_destination = 5;
    std::size_t max_held = 1000;

    std::optional<io::BufferRing> buffers;  // before ring: unmapped after the ring's exit
    io::Ring ring;
    std::uint8_t id;
    io::Mailbox<int> inbox;
    io::Ticker tick;
    io::SslCtxPtr tls;                      // client context by policy (MX hosts)
    io::SslCtxPtr smarthost_tls;            // certificates checked: a smarthost gets our password
    io::SslCtxPtr unchecked_tls;            // a message's smarthost that asked for no check
    std::optional<MessageRoute> relay_smarthost;  // [relay] smarthost, when set
    std::unique_ptr<Resolver> resolver;     // null: MX lookups fail for now (`dns_error` says why)
    std::string dns_error;
    std::optional<io::FdPoll> dns_poll;  // libunbound's result pipe: process() on each readiness
    std::optional<QueueWake> wake;  // pokes from other processes (`ringmail queue add`)
    std::string body_buf;           // the body of the message being handed to a session
    static constexpr std::size_t kKeptBodyBuffer = 1 << 20;
    std::vector<Destination*> resolving;  // smarthosts whose name is being looked up
    std::atomic<bool> stopping{false};
    std::atomic<bool> poked{false};

    std::map<std::string, Destination> dests;
    std::unordered_map<std::uint64_t, unsigned> inflight;  // message → its deliveries out
    std::size_t held = 0;                                  // deliveries waiting or under way
    io::SlotTable<Link> links;
    unsigned open_links = 0;
    RelayCounters counters;  // /metrics
    io::EventFile* events = nullptr;  // [server] event_log
    std::string event_lines;          // this turn's, posted with the log
    std::vector<MessageId> bounce_of;  // the message each of `bounces` reports on
    bool poll_due = true;
    bool poll_on_room = false;  // a poll found no room: poll when a delivery is let go
    // A poke from this process (a message just queued): only what is newer than any poll
    // saw needs a look, and that costs the new rows, where a full poll reads every
    // message held (each poke of a busy inbound server would read them all again). The
    // tick's full poll each second still finds what this misses (an id made earlier but
    // committed later by another store).
    bool poll_new = false;
    MessageId newest_seen{};
    std::vector<AttemptResult> results;
    std::vector<NewMessage> bounces;
    std::string log;
    std::mt19937 rng;
};

Relay::Relay(const RelayConfig& config, std::unique_ptr<Store> store, std::string hostname)
    : engine_(std::make_unique<Engine>(config, std::move(store), std::move(hostname))) {}

Relay::~Relay() { stop(); }

void Relay::start() {
    thread_ = std::thread([e = engine_.get()] { e->run(); });
}

const RelayCounters& Relay::counters() const noexcept { return engine_->counters; }

void Relay::set_event_log(io::EventFile* events) noexcept { engine_->events = events; }

void Relay::poke() noexcept {
    engine_->poked.store(true, std::memory_order_release);
    engine_->inbox.wake();
}

void Relay::stop() {
    if (!thread_.joinable()) return;
    engine_->stopping.store(true, std::memory_order_release);
    engine_->inbox.wake();
    thread_.join();
}

void Relay::Engine::run() {
    try {
        ring.start();
    } catch (const std::exception& e) {
        log::note(std::string("relay: ") + e.what());
        return;
    }
    try {
        tls = io::make_client_tls_context(
            cfg.tls == RelayTls::Verify ? io::TlsPolicy::Verify : io::TlsPolicy::Opportunistic, cfg.ca_file);
        // A smarthost's certificate is checked: it gets our password.
        smarthost_tls = io::make_client_tls_context(io::TlsPolicy::Verify, cfg.ca_file);
        unchecked_tls = io::make_client_tls_context(io::TlsPolicy::Opportunistic, cfg.ca_file);
    } catch (const std::exception& e) {
        log::note(std::string("relay: TLS: ") + e.what() + "; delivering without TLS");
    }
    if (cfg.smarthost.empty()) {
        try {
            ResolverOptions o;
            o.resolver = cfg.resolver;
            o.dnssec = cfg.dnssec;
            resolver = std::make_unique<Resolver>(o);
            dns_poll.emplace(ring, resolver->fd(), [this] { resolver->process(ring.now_ms()); });
            dns_poll->arm();
        } catch (const std::exception& e) {
            dns_error = e.what();
            log::note(std::string("relay: DNS: ") + e.what() + "; mail to domains waits in the queue");
        }
    }
    try {
        wake.emplace(ring, cfg.queue_dir, [this] { poll_due = true; });
        wake->arm();
    } catch (const std::exception& e) {
        log::note(std::string("relay: ") + e.what() + "; messages queued by other processes wait up to a second");
    }
    inbox.arm();
    tick.arm();
    for (;;) {
        // A poll already due (the first one, or more due than a page held) waits for nothing.
        static constexpr __kernel_timespec kWait{1, 0}, kNoWait{0, 0};
        if (ring.turn(poll_due ? &kNoWait : &kWait) < 0) break;
        inbox.drain([](int&&) {});
        if (stopping.load(std::memory_order_acquire)) break;
        take_lookups();
        if (poked.exchange(false, std::memory_order_acq_rel)) poll_new = true;
        // The results of deliveries just finished are written before the store is asked
        // what is due: until then it still calls those messages due.
        write_results();
        if (poll_due) poll();
        else if (poll_new) poll_newer();
        start_links();
        write_results();
        reap();
        buffers->publish();
        log::flush(log);
        if (events) events->post(event_lines);
    }
    // Deliveries under way stay queued in the store: the next run tries them again.
    if (dns_poll) dns_poll->cancel();
    if (wake) wake->cancel();
    links.for_each([this](io::SlotId, Link& l) {
        if (!l.closed) close_link(l);
    });
    for (int i = 0; i < 50; ++i) {  // let the closes complete (bounded)
        bool busy = false;
        links.for_each([&busy](io::SlotId, Link& l) { busy = busy || l.stream.ops() > 0; });
        if (!busy) break;
        static constexpr __kernel_timespec kShort{0, 20'000'000};
        if (ring.turn(&kShort) < 0) break;
    }
    write_results();
    log::flush(log);
    if (events) events->post(event_lines);
}

// ---- scheduling ----

void Relay::Engine::poll() {
    poll_due = poll_new = false;
    if (held >= max_held) {  // a poke or the tick while full: not lost, done when room frees
        poll_on_room = true;
        return;
    }
    const std::size_t room = max_held - held;
    std::vector<ScheduleEntry> due;
    const StoreResult r = store->schedule(now_s(), room + inflight.size(), due);
    if (!r) {
        log::Line("relay").str("error", r.detail).append_to(log);
        return;
    }
    take_due(due);
    // A full page: more may be due; look again next turn (or when room frees) rather than
    // next second.
    if (due.size() == room + inflight.size()) (held < max_held ? poll_due : poll_on_room) = true;
}

void Relay::Engine::poll_newer() {
    poll_new = false;
    if (held >= max_held) {
        poll_on_room = true;
        return;
    }
    const std::size_t room = max_held - held;
    std::vector<ScheduleEntry> due;
    const StoreResult r = store->schedule_after(newest_seen, now_s(), room, due);
    if (!r) {
        log::Line("relay").str("error", r.detail).append_to(log);
        return;
    }
    take_due(due);
    if (due.size() == room) (held < max_held ? poll_new : poll_on_room) = true;
}

void Relay::Engine::take_due(const std::vector<ScheduleEntry>& due) {
    for (const ScheduleEntry& e : due) {
        if (held >= max_held) break;  // what is left: the poll when room frees (a full one)
        newest_seen = std::max(newest_seen, e.id);
        if (inflight.count(e.id.value)) continue;
        take(e);
    }
}

std::string Relay::Engine::destination_of(const std::string& address, const std::optional<MessageRoute>& route) const {
    if (route) return kOwnRoute + route->encode();  // the message's own smarthost wins
    if (relay_smarthost) return "";
    const std::size_t at = address.rfind('@');
    if (at == std::string::npos || at + 1 == address.size()) return "?";
    const std::string domain = address.substr(at + 1);
    if (!domain.empty() && domain.front() == '[') return domain;
    return base::to_lower(domain);
}

void Relay::Engine::take(const ScheduleEntry& e) {
    MessageInfo info;
    if (!store->show(e.id, info)) return;
    const Time now = now_s();
    std::map<std::string, Delivery> groups;
    for (std::size_t i = 0; i < info.recipients.size(); ++i) {
        const RecipientInfo& r = info.recipients[i];
        if (r.status != Status::Queued || (r.next_attempt && *r.next_attempt > now)) continue;
        Delivery& d = groups[destination_of(r.address, info.route)];
        d.rcpts.push_back(r.address);
        d.index.push_back(static_cast<std::uint32_t>(i));
        d.attempts.push_back(r.attempts);
    }
    for (auto& [key, d] : groups) {
        d.id = info.id;
        d.priority = info.priority;
        d.created = info.created;
        d.sender = info.sender;
        const auto [it, fresh] = dests.try_emplace(key);
        Destination& dest = it->second;
        if (fresh) {
            dest.key = key;
            if (key.empty()) dest.via = relay_smarthost;
            else if (key.front() == kOwnRoute) dest.via = info.route;
        }
        dest.waiting[static_cast<std::size_t>(d.priority)].push_back(std::move(d));
        ++held;
        ++inflight[info.id.value];
    }
}

bool Relay::Engine::ensure_route(Destination& d) {
    const Time now = now_s();
    if (now < d.routed_until) return d.route.kind == Route::Kind::Ok;
    Route r;
    if (d.via) {  // a smarthost: the system's resolver, off this thread
        if (d.via->host.empty()) {
            r.kind = Route::Kind::TempFail;
            r.reason = "bad smarthost " + cfg.smarthost;
        } else {
            // Asynchronous unless an IP address: take_lookups() sets the route.
            if (d.routing) return false;
            if (!d.lookup) d.lookup = std::make_unique<HostLookup>([this] { inbox.wake(); });
            d.lookup->start(d.via->host, std::to_string(d.via->port), ring.now_ms());
            auto answer = d.lookup->take();
            if (!answer) {
                d.routing = true;
                resolving.push_back(&d);
                return false;
            }
            r = std::move(*answer);
        }
    } else if (d.key == "?") {
        r.kind = Route::Kind::PermFail;
        r.reason = "recipient address has no domain";
        r.status = "5.1.3";
    } else if (d.key.front() == '[') {
        if (auto t = literal_target(d.key, cfg.mx_port)) {
            r.targets.push_back(*t);
        } else {
            r.kind = Route::Kind::PermFail;
            r.reason = "bad address literal " + d.key;
            r.status = "5.1.2";
        }
    } else if (!resolver) {
        r.kind = Route::Kind::TempFail;
        r.reason = "no DNS resolver: " + dns_error;
    } else {
        // Asynchronous: on_mx() sets the route (at once when the answer is cached).
        if (d.routing) return false;
        d.routing = true;
        resolver->resolve(d.key, ring.now_ms(), [this, key = d.key](const MxResult& m) { on_mx(key, m); });
        return !d.routing && d.route.kind == Route::Kind::Ok && now_s() < d.routed_until;
    }
    set_route(d, std::move(r));
    return d.route.kind == Route::Kind::Ok;
}

// A route found (kept kRouteCacheSeconds), or the failure every delivery waiting gets.
void Relay::Engine::set_route(Destination& d, Route r) {
    if (r.kind == Route::Kind::Ok && r.targets.empty()) {
        r.kind = Route::Kind::TempFail;
        r.reason = "no address for " + d.name();
    }
    d.route = std::move(r);
    d.routed_until = now_s() + kRouteCacheSeconds;
    if (d.route.kind != Route::Kind::Ok)
        fail_waiting(d, d.route.kind == Route::Kind::PermFail ? Outcome::PermFail : Outcome::TempFail, d.route.reason,
                     d.route.status);
}

// Smarthosts' addresses from their lookup threads (or their failure, or the timeout).
void Relay::Engine::take_lookups() {
    std::erase_if(resolving, [this](Destination* d) {
        auto r = d->lookup->take();
        if (!r) return false;
        d->routing = false;
        set_route(*d, std::move(*r));
        return true;
    });
}

void Relay::Engine::start_links() {
    // Idle connections take what waits for their destination first.
    links.for_each([this](io::SlotId, Link& l) {
        if (!l.closed && l.idle_since != 0 && l.dest->waiting_count() > 0) drive(l);
    });
    for (auto& [key, d] : dests) {
        if (d.waiting_count() > 0 && d.open == 0 && now_s() < d.suspended_until) {
            fail_waiting(d, Outcome::TempFail, "delivery temporarily suspended: " + d.suspended_why, "");
            continue;
        }
        // One more connection while more deliveries wait than connections are open.
        while (d.waiting_count() > d.open && d.open < per_destination && open_links < cfg.connections) {
            if (!ensure_route(d)) break;
            open_link(d, d.route.targets, 0);
        }
    }
}

// The MX answer for a destination: its hosts' addresses in the order to try (RFC 5321
// 5.1: preference order, equal ones shuffled by the resolver; hosts without an address
// skipped), or the failure every delivery waiting for it gets.
void Relay::Engine::on_mx(const std::string& key, const MxResult& m) {
    const auto it = dests.find(key);
    if (it == dests.end()) return;
    Destination& d = it->second;
    d.routing = false;
    Route r;
    const MxVerdict v = verdict(m);
    if (v.kind == MxVerdict::Kind::Deliver) {
        for (const MxHost& h : m.hosts) {
            if (h.status != HostStatus::Ok) continue;
            if (cfg.mx_ipv4)
                for (const auto& a : h.v4) r.targets.push_back(make_target(h.name, a.data(), 4, cfg.mx_port));
            if (cfg.mx_ipv6)
                for (const auto& a : h.v6) r.targets.push_back(make_target(h.name, a.data(), 16, cfg.mx_port));
        }
        if (r.targets.empty()) {
            r.kind = Route::Kind::TempFail;
            r.reason = "no address for the MX hosts of " + key;
        }
    } else {
        r.kind = v.kind == MxVerdict::Kind::Fail ? Route::Kind::PermFail : Route::Kind::TempFail;
        r.reason = std::to_string(v.code) + " " + std::string(v.enhanced) + " " + v.text;
        r.status = std::string(v.enhanced);
    }
    d.route = std::move(r);
    d.routed_until = now_s() + kRouteCacheSeconds;
    if (d.route.kind != Route::Kind::Ok)
        fail_waiting(d, d.route.kind == Route::Kind::PermFail ? Outcome::PermFail : Outcome::TempFail, d.route.reason,
                     d.route.status);
}

// ---- connections ----

void Relay::Engine::open_link(Destination& d, std::vector<Target> targets, std::size_t target) {
    Link& l = *links.emplace_named(ring, *buffers, id).second;
    l.dest = &d;
    l.targets = std::move(targets);
    l.target = target;
    ++d.open;
    ++open_links;
    counters.connections_open.add();
    const Target& t = l.host();
    const std::uint64_t connect_ms =
        std::uint64_t(d.via && d.via->timeout_s ? d.via->timeout_s : cfg.connect_timeout) * 1000;
    if (!l.stream.connect(reinterpret_cast<const sockaddr*>(&t.addr), t.len, connect_ms)) {
        link_failed(l, std::string("cannot connect: ") + std::strerror(l.stream.error()));
        return;
    }
    l.deadline_ms = ring.now_ms() + connect_ms + 1000;
}

void Relay::Engine::on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept {
    Link* l = links.find(io::SlotId::unpack(io::Stream::name_of(payload)));
    if (!l) {
        if (cqe.res > 0 && (cqe.flags & IORING_CQE_F_BUFFER)) buffers->recycle(io::BufferRing::id(cqe.flags));
        return;
    }
    auto emit = [this, l](io::StreamEvent ev, std::string_view bytes) noexcept {
        try {
            on_stream(*l, ev, bytes);
        } catch (const std::exception& e) {  // out of memory: give the connection up
            if (!l->closed) link_failed(*l, e.what());
        }
    };
    l->stream.on_completion(cqe, payload, emit);
}

void Relay::Engine::on_stream(Link& l, io::StreamEvent ev, std::string_view bytes) {
    if (l.closed) return;
    switch (ev) {
    case io::StreamEvent::Connected: {
        l.connected = true;
        const std::optional<MessageRoute>& via = l.dest->via;
        if (!via || via->tls != SmarthostTls::Smtps) return begin_session(l);
        std::string none;
        SSL_CTX* ctx = via->verify ? smarthost_tls.get() : unchecked_tls.get();
        if (!ctx || !l.stream.start_tls(ctx, io::TlsStream::Side::Client, ring.now_ms() + kHandshakeMs, none,
                                        l.host().host, via->verify))
            return link_failed(l, "cannot start TLS");
        l.stream.send(none);
        l.deadline_ms = ring.now_ms() + kHandshakeMs;
        return;
    }
    case io::StreamEvent::TlsReady:
        if (!l.session) return begin_session(l);  // implicit TLS: the session starts on it
        l.session->tls_started();
        return drive(l);
    case io::StreamEvent::TlsFailed: {
        const std::string why = l.stream.tls() ? l.stream.tls()->failure() : "handshake failed";
        return link_failed(l, "TLS with " + l.host().host + " failed: " + why);
    }
    case io::StreamEvent::Data:
        l.in.append(bytes);
        return drive(l);
    case io::StreamEvent::Writable:  // also TLS records of its own (a handshake's last flight)
        if (!l.stream.send(l.out)) return link_failed(l, "TLS write failed");
        // What was written is out: the wait for its reply starts now (4.5.3.2.6: after the dot).
        if (l.session && l.session->state() == proto::ClientState::Busy && !l.stream.handshaking()) arm_wait(l);
        return;
    case io::StreamEvent::PeerClosed:
    case io::StreamEvent::Failed:
        if (!l.connected) {
            const int err = l.stream.error();
            return link_failed(l, std::string("cannot connect: ") + (err ? std::strerror(err) : "closed"));
        }
        if (!l.session) return link_failed(l, "connection closed during the TLS handshake");
        l.session->connection_closed();
        return drive(l);
    }
}

void Relay::Engine::begin_session(Link& l) {
    proto::ClientOptions o;
    o.ehlo_name = hostname;
    if (const auto& via = l.dest->via) {  // a smarthost: TLS as set, a login when set
        o.starttls = via->tls == SmarthostTls::StartTls;
        o.tls_active = via->tls == SmarthostTls::Smtps;
        o.user = via->user;
        o.password = via->password;
    } else {
        o.starttls = cfg.tls == RelayTls::Verify;
        o.starttls_if_offered = cfg.tls == RelayTls::Opportunistic && tls;
    }
    l.session = std::make_unique<proto::ClientSession>(std::move(o));
    arm_wait(l);
    drive(l);
}

void Relay::Engine::drive(Link& l) {
    using proto::ClientState;
    // Bounded: every pass feeds input, sends, or returns to wait for the ring.
    for (int guard = 0; guard < 10000 && !l.closed; ++guard) {
        proto::ClientSession& s = *l.session;
        if (l.out.empty()) {
            l.out.swap(s.output());  // the stuffed body is not copied again
        } else if (!s.output().empty()) {
            l.out += s.output();
            s.output().clear();
        }
        if (!l.stream.send(l.out)) return link_failed(l, "TLS write failed");
        switch (s.state()) {
        case ClientState::NeedTls: {
            l.in.clear();  // RFC 3207 4.2: nothing read before the handshake is a reply
            const std::optional<MessageRoute>& via = l.dest->via;
            SSL_CTX* ctx = !via ? tls.get() : via->verify ? smarthost_tls.get() : unchecked_tls.get();
            const bool verify = via ? via->verify : cfg.tls == RelayTls::Verify;
            if (!ctx || !l.stream.start_tls(ctx, io::TlsStream::Side::Client, ring.now_ms() + kHandshakeMs, l.out,
                                            l.host().host, verify))
                return link_failed(l, "cannot start TLS");
            l.stream.send(l.out);
            l.deadline_ms = ring.now_ms() + kHandshakeMs;
            return;
        }
        case ClientState::Ready:
            l.ready_once = true;
            if (!l.in.empty()) break;  // the server spoke out of turn: feed() fails the session
            if (l.current) finish_delivery(l);
            if (!l.quitting && !stopping && l.sent < cfg.messages_per_connection) {
                if (take_next(l)) {
                    l.idle_since = 0;
                    continue;
                }
                if (l.idle_since == 0) l.idle_since = ring.now_ms();
                if (ring.now_ms() < l.idle_since + kIdleMs) {  // wait for more (start_links, on_tick)
                    l.deadline_ms = 0;
                    return;
                }
            }
            if (!l.quitting) {
                l.quitting = true;
                s.quit();
                continue;
            }
            return;
        case ClientState::Closed:
            close_link(l);
            return;
        case ClientState::Failed: {
            std::string why(proto::describe(s.error()));
            if (s.last_reply().code != 0) why += ": " + s.last_reply().to_string();
            return link_failed(l, why);
        }
        case ClientState::Busy:
            break;
        }
        if (l.in.empty()) {
            arm_wait(l);
            return;
        }
        const std::size_t used = s.feed(l.in);
        l.in.erase(0, used);
        if (used == 0 && s.state() == ClientState::Busy) return;  // a partial line: wait for more
    }
}

// RFC 5321 4.5.3.2: the deadline of what the connection waits for now.
void Relay::Engine::arm_wait(Link& l) {
    l.sent_mark = l.stream.bytes_sent();
    l.deadline_ms = ring.now_ms() + wait_ms(l);
}

// The reply due first; while the body goes out, each send's progress (4.5.3.2.5).
std::uint64_t Relay::Engine::wait_ms(const Link& l) const {
    using proto::Awaiting;
    if (l.dest->via && l.dest->via->timeout_s) return std::uint64_t(l.dest->via->timeout_s) * 1000;  // the message's own
    switch (l.session->awaiting()) {
    case Awaiting::Greeting: return timeouts.greeting_ms;
    case Awaiting::Mail: return timeouts.mail_ms;
    case Awaiting::Rcpt: return timeouts.rcpt_ms;
    case Awaiting::Data: return timeouts.data_ms;
    case Awaiting::EndOfData: return l.stream.sending() ? timeouts.data_block_ms : timeouts.data_end_ms;
    case Awaiting::Nothing:
    case Awaiting::Other: break;
    }
    return timeouts.other_ms;
}

std::string Relay::Engine::timeout_reason(const Link& l) const {
    using proto::Awaiting;
    const std::string host = l.targets.empty() ? std::string("the server") : l.host().host;
    // Connecting or a TLS handshake: their own deadlines.
    if (!l.session || l.stream.handshaking()) return "timed out waiting for " + host;
    switch (l.session->awaiting()) {
    case Awaiting::Greeting: return "timed out waiting for the greeting of " + host;
    case Awaiting::Mail: return "timed out waiting for " + host + " to answer MAIL";
    case Awaiting::Rcpt: return "timed out waiting for " + host + " to answer RCPT";
    case Awaiting::Data: return "timed out waiting for " + host + " to answer DATA";
    case Awaiting::EndOfData:
        if (l.stream.sending()) return "timed out sending the message to " + host;
        return "timed out waiting for " + host + " to answer the end of the message";
    case Awaiting::Nothing:
    case Awaiting::Other: break;
    }
    return "timed out waiting for " + host + " to answer";
}

// The next delivery for this connection's destination, highest priority first.
bool Relay::Engine::take_next(Link& l) {
    Destination& d = *l.dest;
    for (auto& q : d.waiting) {
        while (!q.empty()) {
            Delivery del = std::move(q.front());
            q.pop_front();
            std::vector<mime::DsnRecipient> bounce;
            if (body_buf.capacity() > kKeptBodyBuffer) std::string().swap(body_buf);  // after a big one
            if (!read_body(*store, del.id, body_buf)) {
                // Removed meanwhile (`ringmail queue remove`), or its file is gone: nothing to send.
                for (std::size_t i = 0; i < del.rcpts.size(); ++i)
                    decide(del, i, Outcome::TempFail, "queue file unreadable", "", bounce);
                done_with(del, bounce, {});
                continue;
            }
            l.headers = header_section(body_buf);
            // The session takes the buffer when the body goes as it is, and leaves us a spare.
            const proto::ClientError e = l.session->send_mail_taking(del.sender, del.rcpts, body_buf);
            if (e != proto::ClientError::None) {
                for (std::size_t i = 0; i < del.rcpts.size(); ++i)
                    decide(del, i, Outcome::PermFail, std::string(proto::describe(e)), "", bounce, "5.1.3");
                done_with(del, bounce, l.headers);
                continue;
            }
            l.current = std::move(del);
            ++l.sent;
            return true;
        }
    }
    return false;
}

// The session is Ready again after a message: each recipient's outcome from its replies.
void Relay::Engine::finish_delivery(Link& l) {
    Delivery& d = *l.current;
    const proto::MailResult& r = l.session->result();
    const std::string remote = l.host().host + " [" + l.host().ip() + "]";
    d.chunked = r.chunked;
    std::vector<mime::DsnRecipient> bounce;
    for (std::size_t i = 0; i < d.rcpts.size(); ++i) {
        const proto::ServerReply* reply = &r.data;
        if (!r.mail.positive()) reply = &r.mail;
        else if (i < r.rcpt.size() && r.rcpt[i].code != 0 && !r.rcpt[i].positive()) reply = &r.rcpt[i];
        const unsigned code = reply->code;
        const Outcome o = code >= 200 && code < 300 ? Outcome::Sent : code >= 500 ? Outcome::PermFail : Outcome::TempFail;
        decide(d, i, o, code ? reply->to_string() : "no reply from the server", remote, bounce);
    }
    done_with(d, bounce, l.headers);
    l.current.reset();
    l.headers.clear();
}

// Before the first message: the next host of the route, if any (RFC 5321 5.1: try the MX
// hosts in order). Else every delivery out on it and (when no other connection serves the
// destination) every one waiting fails for now.
void Relay::Engine::link_failed(Link& l, const std::string& why) {
    if (l.closed) return;
    Destination& d = *l.dest;
    const std::string remote = l.targets.empty() ? "" : l.host().host + " [" + l.host().ip() + "]";
    log::Line("relay").str("event", "connection failed").str("destination", d.name())
        .str("host", remote).str("reason", why).append_to(log);
    if (l.current) {
        std::vector<mime::DsnRecipient> bounce;
        Delivery& del = *l.current;
        const proto::MailResult& r = l.session->result();
        for (std::size_t i = 0; i < del.rcpts.size(); ++i) {
            // A refusal that did come stands; the rest failed with the connection.
            if (i < r.rcpt.size() && r.rcpt[i].code >= 500)
                decide(del, i, Outcome::PermFail, r.rcpt[i].to_string(), remote, bounce);
            else
                decide(del, i, Outcome::TempFail, why, remote, bounce);
        }
        done_with(del, bounce, l.headers);
        l.current.reset();
    }
    const bool fallback = !l.ready_once && l.target + 1 < l.targets.size() && !stopping;
    std::vector<Target> targets = fallback ? l.targets : std::vector<Target>{};
    const std::size_t next = l.target + 1;
    const bool reached = l.ready_once;
    close_link(l);
    if (fallback) return open_link(d, std::move(targets), next);
    if (!reached && d.open == 0) {
        fail_waiting(d, Outcome::TempFail, why, "");
        d.routed_until = 0;  // look the route up again next time
        // Every host failed: the next deliveries wait without trying (the first retry of
        // each, at most a minute), rather than one connection each to a host that is down.
        d.suspended_until = now_s() + std::min<Time>(cfg.retry_base, kMaxSuspendSeconds);
        d.suspended_why = why;
    }
}

void Relay::Engine::close_link(Link& l) {
    if (l.closed) return;
    l.closed = true;
    l.stream.close();
    --l.dest->open;
    --open_links;
    counters.connections_open.sub();
}

// Closed connections are freed once no request names them any more (once per turn: a
// connection is never freed under a completion that is using it).
void Relay::Engine::reap() {
    links.for_each([this](io::SlotId sid, Link& l) {
        if (l.closed && l.stream.ops() == 0) links.erase(sid);
    });
}

void Relay::Engine::on_tick() {
    poll_due = true;
    const std::uint64_t now = ring.now_ms();
    if (resolver) resolver->expire(now);
    for (Destination* d : resolving) d->lookup->expire(now, kHostLookupMs);
    std::vector<Link*> late;
    links.for_each([&](io::SlotId, Link& l) {
        if (l.closed || l.deadline_ms == 0) return;
        // RFC 5321 4.5.3.2.5: a send of the body that moved since gets its time again.
        if (l.session && l.stream.sending() && !l.stream.handshaking() && l.stream.bytes_sent() != l.sent_mark)
            arm_wait(l);
        if (now >= l.deadline_ms) late.push_back(&l);
    });
    for (Link* l : late) link_failed(*l, timeout_reason(*l));
    // Idle past kIdleMs: QUIT (drive() sees the time is up).
    links.for_each([this, now](io::SlotId, Link& l) {
        if (!l.closed && l.idle_since != 0 && now >= l.idle_since + kIdleMs) drive(l);
    });
}

// ---- results ----

void Relay::Engine::fail_waiting(Destination& d, Outcome o, const std::string& why, const std::string& status) {
    for (auto& q : d.waiting) {
        while (!q.empty()) {
            Delivery del = std::move(q.front());
            q.pop_front();
            std::vector<mime::DsnRecipient> bounce;
            for (std::size_t i = 0; i < del.rcpts.size(); ++i) decide(del, i, o, why, "", bounce, status);
            std::string headers;
            if (!bounce.empty()) {
                std::string body;
                if (read_body(*store, del.id, body)) headers = header_section(body);
            }
            done_with(del, bounce, headers);
        }
    }
}

void Relay::Engine::decide(Delivery& d, std::size_t i, Outcome o, std::string reply, const std::string& remote,
                           std::vector<mime::DsnRecipient>& bounce, const std::string& status) {
    const Time now = now_s();
    AttemptResult a;
    a.id = d.id;
    a.recipient = d.index[i];
    a.outcome = o;
    const std::uint32_t attempts = d.attempts[i] + 1;
    if (o == Outcome::TempFail) {
        if (give_up(policy, attempts, d.created, now)) {
            a.outcome = Outcome::PermFail;
            reply = "gave up after " + std::to_string(attempts) + " attempts: " + reply;
        } else {
            a.next_attempt = next_try(policy, attempts, now, static_cast<std::uint32_t>(rng()));
        }
    }
    a.reply = reply;
    (a.outcome == Outcome::Sent ? counters.sent : a.outcome == Outcome::TempFail ? counters.deferred : counters.bounced).add();
    if (a.outcome != Outcome::TempFail) counters.observe_latency(static_cast<std::uint64_t>(std::max<Time>(0, now - d.created)));
    log_attempt(d, i, a.outcome == Outcome::Sent ? "sent" : a.outcome == Outcome::TempFail ? "deferred" : "bounced",
                reply, remote);
    if (a.outcome == Outcome::PermFail && !d.sender.empty()) {  // never a bounce for a bounce
        mime::DsnRecipient r;
        r.address = d.rcpts[i];
        const bool from_server = !remote.empty() && reply.size() > 3 && reply[0] >= '2' && reply[0] <= '5';
        (from_server ? r.reply : r.reason) = reply;
        r.remote_mta = from_server ? remote.substr(0, remote.find(' ')) : "";
        r.status = status;
        bounce.push_back(std::move(r));
    }
    results.push_back(std::move(a));
}

// One delivery is over: its bounce (if any) is queued, and the message leaves the set of
// those in flight once all its deliveries are done.
void Relay::Engine::done_with(Delivery& d, const std::vector<mime::DsnRecipient>& bounce, const std::string& headers) {
    if (!bounce.empty()) {
        mime::DsnInput in;
        in.reporting_mta = hostname;
        in.to = d.sender;
        in.arrival_date = base::rfc5322_date(d.created);
        in.recipients = bounce;
        in.original = headers;
        in.date = base::rfc5322_date(now_s());
        in.message_id = d.id.text() + ".bounce." + std::to_string(rng()) + "@" + hostname;
        in.boundary_seed = std::to_string(rng()) + std::to_string(rng());
        NewMessage m;
        m.sender = "";  // the null sender: a bounce is never bounced (RFC 5321 4.5.5)
        m.recipients = {d.sender};
        m.priority = Priority::Medium;
        m.body = mime::compose_dsn(in);
        bounces.push_back(std::move(m));
        bounce_of.push_back(d.id);
    }
    --held;
    if (poll_on_room) {
        poll_on_room = false;
        poll_due = true;
    }
    auto it = inflight.find(d.id.value);
    if (it != inflight.end() && --it->second == 0) inflight.erase(it);
}

void Relay::Engine::write_results() {
    if (!results.empty()) {
        const StoreResult r = store->record(results);
        if (!r) log::Line("relay").str("error", "recording results: " + r.detail).append_to(log);
        results.clear();
    }
    if (!bounces.empty()) {
        std::vector<MessageId> ids;
        const StoreResult r = store->enqueue(bounces, now_s(), ids);
        if (!r) log::Line("relay").str("error", "queueing bounces: " + r.detail).append_to(log);
        for (std::size_t i = 0; i < ids.size(); ++i) {
            log::Line("bounce").str("id", ids[i].text()).str("to", bounces[i].recipients.front()).append_to(log);
            if (events)
                log::Line("bounce", log::Format::Json).str("id", ids[i].text()).str("of", bounce_of[i].text())
                    .str("to", bounces[i].recipients.front()).append_to(event_lines);
        }
        bounces.clear();
        bounce_of.clear();
        poll_due = true;
    }
}

void Relay::Engine::log_attempt(const Delivery& d, std::size_t i, std::string_view status, std::string_view reply,
                                const std::string& remote) {
    log::Line line("delivery");
    line.str("id", d.id.text())
        .str("to", d.rcpts[i])
        .str("host", remote.empty() ? "none" : remote)
        .num("delay", static_cast<std::uint64_t>(std::max<Time>(0, now_s() - d.created)))
        .num("attempt", d.attempts[i] + 1)
        .str("status", status)
        .str("reply", reply);
    if (d.chunked) line.str("chunking", "yes");
    line.append_to(log);
    if (!events) return;
    log::Line("delivery", log::Format::Json).str("id", d.id.text()).str("to", d.rcpts[i])
        .str("host", remote).num("attempt", d.attempts[i] + 1).str("status", status).str("reply", reply)
        .append_to(event_lines);
}

}  // namespace ringmail::relay
