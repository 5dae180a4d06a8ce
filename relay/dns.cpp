// relay/dns.cpp — the Resolver on libunbound: one MX query per domain, then A and AAAA per
// MX host, answers joined into an MxResult (RFC 5321 5.1 implicit MX, RFC 7505 null MX,
// RFC 2308 negative answers with the TTL unbound derives from the SOA). Invariant: every
// Query node in queries_ is one unbound may still call back with; a Lookup lives in
// lookups_ until its last query is answered (or expire() gives up on it).
#include "relay/dns.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "base/ascii.hpp"

namespace ringmail::relay {
namespace {

constexpr int kTypeA = 1;
constexpr int kTypeMx = 15;
constexpr int kTypeAaaa = 28;
constexpr int kClassIn = 1;

std::uint64_t steady_ms() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

std::string rcode_text(int rcode) {
    switch (rcode) {  // RFC 1035 4.1.1
    case 1: return "FORMERR from the DNS server";
    case 2: return "SERVFAIL from the DNS server";
    case 4: return "NOTIMP from the DNS server";
    case 5: return "REFUSED by the DNS server";
    default: return "DNS rcode " + std::to_string(rcode);
    }
}

// The reason a finished unbound query gives no usable answer for now, or nullopt when it
// gave one (data, no data or NXDOMAIN). A bogus answer is a temporary failure, as in
// Postfix: a broken signature is more often fixed than not.
std::optional<std::string> temporary_failure(int err, const ub_result* r) {
    if (err != 0 || !r) return std::string("resolver error: ") + ub_strerror(err);
    if (r->bogus) return std::string("DNSSEC validation failed") + (r->why_bogus ? std::string(": ") + r->why_bogus : "");
    if (r->rcode != 0 && !r->nxdomain) return rcode_text(r->rcode);
    return std::nullopt;
}

std::uint32_t ttl_of(const ub_result* r) { return r->ttl > 0 ? static_cast<std::uint32_t>(r->ttl) : 0; }

bool parse_port(std::string_view s, std::uint16_t& port) {
    unsigned v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || v == 0 || v > 65535) return false;
    port = static_cast<std::uint16_t>(v);
    return true;
}

}  // namespace

std::string unbound_forwarder(std::string_view hp) {
    const auto bad = [&] {
        return std::invalid_argument("bad resolver '" + std::string(hp.substr(0, 100)) +
                                     "' (expected an IP address with an optional port: 192.0.2.1, 127.0.0.1:5353, [::1]:5353)");
    };
    std::string addr;
    std::uint16_t port = 53;
    if (!hp.empty() && hp.front() == '[') {
        const auto close = hp.find(']');
        if (close == std::string_view::npos) throw bad();
        addr = hp.substr(1, close - 1);
        const auto rest = hp.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || !parse_port(rest.substr(1), port))) throw bad();
    } else if (std::count(hp.begin(), hp.end(), ':') == 1) {
        const auto colon = hp.find(':');
        addr = hp.substr(0, colon);
        if (!parse_port(hp.substr(colon + 1), port)) throw bad();
    } else {
        addr = hp;  // a bare IPv4 or IPv6 address
    }
    unsigned char buf[16];
    if (inet_pton(AF_INET, addr.c_str(), buf) != 1 && inet_pton(AF_INET6, addr.c_str(), buf) != 1) throw bad();
    return addr + "@" + std::to_string(port);
}

struct Resolver::Lookup {
    MxResult result;                   // filled in as answers come
    std::vector<Callback> waiters;     // one per resolve() of this domain
    std::uint64_t started_ms = 0;
    std::vector<std::uint64_t> queries;  // ours in queries_, not answered yet
    bool mx_answered = false;
};

struct Resolver::Query {
    Resolver* self;
    Lookup* lookup;  // nullptr: the lookup gave up on it (expire) but unbound may still answer
    std::uint64_t id;
    int async_id;
    int rrtype;
    int host;  // -1: the MX query; otherwise an index into lookup->result.hosts
};

Resolver::Resolver(const ResolverOptions& options)
    : options_(options), cache_(options.cache_entries), rng_(std::random_device{}()) {
    ctx_ = ub_ctx_create();
    if (!ctx_) throw std::runtime_error("resolver: cannot create the libunbound context");
    try {
        const auto check = [](int err, const std::string& what) {
            if (err != 0) throw std::runtime_error("resolver: " + what + ": " + ub_strerror(err));
        };
        // A worker thread, not a forked process: the relay runs many threads, and fork
        // would copy them all to run one.
        check(ub_ctx_async(ctx_, 1), "async mode");
        if (options_.resolver.empty()) {
            check(ub_ctx_resolvconf(ctx_, nullptr), "/etc/resolv.conf");
        } else {
            std::string fwd;
            try {
                fwd = unbound_forwarder(options_.resolver);
            } catch (const std::invalid_argument& e) {
                throw std::runtime_error(std::string("resolver: ") + e.what());
            }
            check(ub_ctx_set_fwd(ctx_, fwd.c_str()), "resolver " + options_.resolver);
        }
        if (options_.dnssec) {
            // unbound reads the file only at the first query; say now that it is missing.
            if (::access(options_.trust_anchor_file.c_str(), R_OK) != 0)
                throw std::runtime_error("resolver: dnssec = on needs the root trust anchor " +
                                         options_.trust_anchor_file + ": " + std::strerror(errno) +
                                         " (Debian package dns-root-data)");
            check(ub_ctx_add_ta_file(ctx_, options_.trust_anchor_file.c_str()), "trust anchor " + options_.trust_anchor_file);
        }
        fd_ = ub_fd(ctx_);
        if (fd_ < 0) throw std::runtime_error("resolver: libunbound has no result descriptor");
    } catch (...) {
        ub_ctx_delete(ctx_);
        throw;
    }
}

Resolver::~Resolver() {
    // Stops unbound's thread first; no callback runs after this, so the nodes can go.
    ub_ctx_delete(ctx_);
}

void Resolver::on_answer(void* data, int err, ub_result* result) {
    auto* q = static_cast<Query*>(data);
    q->self->answer(*q, err, result);
    ub_resolve_free(result);
}

void Resolver::answer(Query& q, int err, ub_result* r) noexcept {
    Lookup* l = q.lookup;
    const std::uint64_t id = q.id;
    const int rrtype = q.rrtype;
    const int host = q.host;
    queries_.erase(id);  // q is gone from here on
    if (!l) return;
    std::erase(l->queries, id);
    if (rrtype == kTypeMx) on_mx(*l, err, r);
    else on_address(*l, host, rrtype, err, r);
    if (l->queries.empty()) finish(*l, now_ms_);
}

bool Resolver::start_query(Lookup& l, const std::string& name, int rrtype, int host) noexcept {
    const std::uint64_t id = next_query_++;
    Query& q = queries_.emplace(id, Query{this, &l, id, 0, rrtype, host}).first->second;
    if (ub_resolve_async(ctx_, name.c_str(), rrtype, kClassIn, &q, &Resolver::on_answer, &q.async_id) != 0) {
        queries_.erase(id);
        return false;
    }
    l.queries.push_back(id);
    return true;
}

void Resolver::on_mx(Lookup& l, int err, const ub_result* r) noexcept {
    MxResult& res = l.result;
    l.mx_answered = true;
    if (auto why = temporary_failure(err, r)) {
        res.status = MxStatus::TempFail;
        res.why = std::move(*why);
        return;
    }
    res.secure = r->secure != 0;
    if (r->nxdomain) {
        res.status = MxStatus::NxDomain;
        res.ttl = std::min(ttl_of(r), options_.max_negative_ttl);
        return;
    }
    if (!r->havedata) {
        // RFC 5321 5.1: no MX records, so the domain itself is the one host, preference 0.
        // This answer lasts as long as the negative MX answer (the SOA's minimum).
        res.status = MxStatus::ImplicitMx;
        res.ttl = std::min(ttl_of(r), options_.max_negative_ttl);
        res.hosts.push_back(MxHost{0, res.domain, {}, {}, res.ttl, HostStatus::NoAddress});
    } else {
        res.ttl = ttl_of(r);
        bool root = false;
        for (int i = 0; r->data[i]; ++i) {
            const auto rec = parse_mx_rdata({reinterpret_cast<const std::uint8_t*>(r->data[i]), static_cast<std::size_t>(r->len[i])});
            if (!rec) continue;  // malformed: as if absent
            if (rec->name.empty()) {
                root = true;
                continue;
            }
            const bool dup = std::any_of(res.hosts.begin(), res.hosts.end(),
                                         [&](const MxHost& h) { return base::iequals(h.name, rec->name); });
            if (!dup) res.hosts.push_back(MxHost{rec->preference, std::move(rec->name), {}, {}, res.ttl, HostStatus::NoAddress});
        }
        if (res.hosts.empty()) {
            if (root) {
                // RFC 7505 3: the one MX "." (preference 0 by the RFC; we take any). A "."
                // beside real hosts breaks RFC 7505 and is skipped as unusable.
                res.status = MxStatus::NullMx;
                return;
            }
            res.status = MxStatus::TempFail;
            res.why = "no well-formed MX record in the answer";
            return;
        }
        res.status = MxStatus::Mx;
        std::stable_sort(res.hosts.begin(), res.hosts.end(),
                         [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
        // A hostile zone with hundreds of MX records must not make hundreds of lookups.
        if (res.hosts.size() > options_.max_hosts) res.hosts.resize(options_.max_hosts);
    }
    for (std::size_t i = 0; i < res.hosts.size(); ++i) {
        for (const int type : {kTypeA, kTypeAaaa}) {
            if (!start_query(l, res.hosts[i].name, type, static_cast<int>(i))) res.hosts[i].status = HostStatus::TempFail;
        }
    }
}

void Resolver::on_address(Lookup& l, int host, int rrtype, int err, const ub_result* r) noexcept {
    MxHost& h = l.result.hosts[static_cast<std::size_t>(host)];
    if (temporary_failure(err, r)) {
        h.status = HostStatus::TempFail;
        return;
    }
    if (!r->havedata) {  // NXDOMAIN or no data: a negative answer, cached as such
        h.ttl = std::min({h.ttl, ttl_of(r), options_.max_negative_ttl});
        return;
    }
    h.ttl = std::min(h.ttl, ttl_of(r));
    for (int i = 0; r->data[i]; ++i) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(r->data[i]);
        if (rrtype == kTypeA && r->len[i] == 4) {
            std::array<std::uint8_t, 4> a;
            std::memcpy(a.data(), p, 4);
            h.v4.push_back(a);
        } else if (rrtype == kTypeAaaa && r->len[i] == 16) {
            std::array<std::uint8_t, 16> a;
            std::memcpy(a.data(), p, 16);
            h.v6.push_back(a);
        }
    }
}

void Resolver::finish(Lookup& l, std::uint64_t now_ms) noexcept {
    auto node = lookups_.extract(l.result.domain);
    std::unique_ptr<Lookup> owned = std::move(node.mapped());
    MxResult& res = owned->result;
    if (res.status == MxStatus::Mx || res.status == MxStatus::ImplicitMx) {
        bool temp = false;
        for (MxHost& h : res.hosts) {
            if (!h.v4.empty() || !h.v6.empty()) h.status = HostStatus::Ok;
            else if (h.status != HostStatus::TempFail) h.status = HostStatus::NoAddress;
            temp = temp || h.status == HostStatus::TempFail;
            res.ttl = std::min(res.ttl, h.ttl);
        }
        // A host that failed for now must be asked again next time, not in a day.
        if (temp) res.ttl = 0;
    }
    if (res.status == MxStatus::TempFail) res.ttl = 0;
    res.ttl = std::min(res.ttl, options_.max_ttl);
    cache_.put(res, now_ms);
    deliver(std::move(res), owned->waiters);
}

void Resolver::deliver(MxResult r, std::vector<Callback>& waiters) noexcept {
    for (Callback& done : waiters) {
        MxResult copy = r;
        order_hosts(copy.hosts, rng_);
        done(copy);
    }
}

void Resolver::resolve(std::string_view domain, std::uint64_t now_ms, Callback done) noexcept {
    now_ms_ = now_ms;
    auto key = normalize_domain(domain);
    if (!key) {
        MxResult r;
        r.status = MxStatus::BadName;
        r.domain = std::string(domain.substr(0, 255));
        done(r);
        return;
    }
    std::uint32_t left = 0;
    if (const MxResult* hit = cache_.get(*key, now_ms, &left)) {
        MxResult copy = *hit;
        copy.from_cache = true;
        // TTLs as they stand now, as a DNS cache would give them.
        const std::uint32_t spent = copy.ttl - std::min(copy.ttl, left);
        copy.ttl = left;
        for (MxHost& h : copy.hosts) h.ttl -= std::min(h.ttl, spent);
        order_hosts(copy.hosts, rng_);
        done(copy);
        return;
    }
    if (const auto it = lookups_.find(*key); it != lookups_.end()) {
        it->second->waiters.push_back(std::move(done));
        return;
    }
    auto l = std::make_unique<Lookup>();
    l->result.domain = *key;
    l->started_ms = now_ms;
    l->waiters.push_back(std::move(done));
    Lookup& ref = *l;
    lookups_.emplace(*key, std::move(l));
    if (!start_query(ref, ref.result.domain, kTypeMx, -1)) {
        ref.result.why = "resolver error: cannot start the query";
        finish(ref, now_ms);
    }
}

void Resolver::process(std::uint64_t now_ms) noexcept {
    now_ms_ = now_ms;
    const int err = ub_process(ctx_);
    if (err == 0) return;
    // The pipe to unbound's thread broke: nothing in flight will ever be answered.
    std::vector<Lookup*> all;
    for (auto& [_, l] : lookups_) all.push_back(l.get());
    for (Lookup* l : all) {
        for (const std::uint64_t id : l->queries) queries_.at(id).lookup = nullptr;
        l->queries.clear();
        l->result.status = MxStatus::TempFail;
        l->result.why = std::string("resolver error: ") + ub_strerror(err);
        finish(*l, now_ms);
    }
}

void Resolver::expire(std::uint64_t now_ms) noexcept {
    now_ms_ = now_ms;
    std::vector<Lookup*> late;
    for (auto& [_, l] : lookups_)
        if (now_ms >= l->started_ms && now_ms - l->started_ms >= options_.timeout_ms) late.push_back(l.get());
    for (Lookup* l : late) {
        for (const std::uint64_t id : l->queries) {
            Query& q = queries_.at(id);
            if (q.host >= 0) l->result.hosts[static_cast<std::size_t>(q.host)].status = HostStatus::TempFail;
            // ub_cancel fails only when the answer is on its way; then the node waits for it.
            if (ub_cancel(ctx_, q.async_id) == 0) queries_.erase(id);
            else q.lookup = nullptr;
        }
        l->queries.clear();
        if (!l->mx_answered) {
            l->result.status = MxStatus::TempFail;
            l->result.why = "timeout after " + std::to_string(options_.timeout_ms) + " ms";
        }
        // With the MX answered, the hosts that have addresses are still worth trying.
        finish(*l, now_ms);
    }
}

MxResult Resolver::resolve_sync(std::string_view domain) {
    std::optional<MxResult> out;
    resolve(domain, steady_ms(), [&](const MxResult& r) { out = r; });
    const std::uint64_t deadline = steady_ms() + options_.timeout_ms;
    while (!out) {
        const std::uint64_t now = steady_ms();
        pollfd p{fd_, POLLIN, 0};
        const int wait = now >= deadline ? 0 : static_cast<int>(std::min<std::uint64_t>(deadline - now, 1000));
        if (::poll(&p, 1, wait) < 0 && errno != EINTR)
            throw std::runtime_error(std::string("resolver: poll: ") + std::strerror(errno));
        process(steady_ms());
        if (!out) expire(steady_ms());
    }
    return std::move(*out);
}

MxResult resolve_mx_sync(const ResolverOptions& options, std::string_view domain) {
    Resolver r(options);
    return r.resolve_sync(domain);
}

}  // namespace ringmail::relay
