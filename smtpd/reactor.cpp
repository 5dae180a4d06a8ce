// smtpd/reactor.cpp — the server's side of the ring. Per turn: feed sessions what their
// streams received, take handler answers from the inbox, recycle receive buffers, then
// one send per connection with output (replies to a pipelined group leave together, RFC
// 2920 3).
#include "smtpd/reactor.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "mime/charset.hpp"
#include "base/log.hpp"
#include "smtpd/mail_builder.hpp"
#include "smtpd/memory.hpp"

namespace ringmail::smtpd {
namespace {

constexpr unsigned kBufCount = 256;       // per reactor, shared by all its connections
constexpr unsigned kBufSize = 32 * 1024;  // idle connections hold none of these
constexpr unsigned kBufGroup = 0;
// While a handler decides, input waits in `pending`; past this we stop reading.
constexpr std::size_t kMaxPending = 256 * 1024;
// RFC 2920 lets a client pipeline without limit, but not make us hold its replies without
// limit: past this much unsent output we stop reading until the peer takes it. Input is fed
// in slices so that one 32 KiB receive of NOOPs cannot make 100 KiB of replies at once.
constexpr std::size_t kMaxOutput = 8 * 1024;
constexpr std::size_t kFeedSlice = 4 * 1024;
// Answers waiting for one reactor; a full inbox makes handler threads wait, not drop.
constexpr std::size_t kInboxSize = 1u << 16;
constexpr unsigned kPlainListener = 0, kTlsListener = 1;
// Failed logins per address are remembered this long; each failure holds its 535 a second
// longer, up to kMaxLoginDelayMs (as Postfix's smtpd_error_sleep_time, growing).
constexpr proto::Timestamp kLoginFailureWindowMs = 15 * 60 * 1000;
constexpr proto::Timestamp kMaxLoginDelayMs = 5000;
constexpr std::size_t kMaxTrackedAddresses = 100000;  // ~10 MB at most per reactor

struct Peer {
    std::string ip;
    bool loopback = false;  // 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104
};

Peer peer_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {"unknown", false};
    char buf[INET6_ADDRSTRLEN] = {};
    bool loopback = false;
    if (ss.ss_family == AF_INET) {
        const in_addr a = reinterpret_cast<sockaddr_in*>(&ss)->sin_addr;
        ::inet_ntop(AF_INET, &a, buf, sizeof buf);
        loopback = (ntohl(a.s_addr) >> 24) == 127;
    } else {
        const in6_addr a = reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
        ::inet_ntop(AF_INET6, &a, buf, sizeof buf);
        loopback = IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
    }
    return {buf, loopback};
}

// "R.S", the log's name for connection S of reactor R, made without a heap string (it is
// in every connection's and message's line).
struct ConnName {
    char text[44];
    std::size_t size;
    operator std::string_view() const noexcept { return {text, size}; }
};

ConnName conn_name(unsigned reactor, std::uint64_t serial) noexcept {
    ConnName n;
    char* p = std::to_chars(n.text, n.text + 20, reactor).ptr;
    *p++ = '.';
    p = std::to_chars(p, n.text + sizeof n.text, serial).ptr;
    n.size = static_cast<std::size_t>(p - n.text);
    return n;
}

}  // namespace

Reactor::Reactor(Shared& shared, unsigned index, int listen_fd, int tls_listen_fd)
    : shared_(shared), index_(index), ring_(4096), id_(ring_.add(*this)), inbox_(ring_, kInboxSize),
      tick_(ring_, 1000, [this] { on_tick(); }), log_out_(ring_, STDERR_FILENO) {
    if (listen_fd >= 0) plain_listener_.emplace(ring_, listen_fd, *this, kPlainListener);
    if (tls_listen_fd >= 0) tls_listener_.emplace(ring_, tls_listen_fd, *this, kTlsListener);
    buffers_.emplace(ring_.raw(), kBufCount, kBufSize, kBufGroup);
    // A 64th of the budget (4 KiB to 1 MiB): what all reactors hold ahead stays small
    // beside it.
    const std::uint64_t budget = shared_.config.max_inflight_bytes;
    credit_chunk_ = budget ? std::clamp<std::uint64_t>(budget / 64, 4096, 1 << 20) : (1 << 20);
    if (shared_.split) parsers_.reserve(kMaxSpareParsers);
}

// Connections still here were abandoned at the end of the shutdown grace time; their
// streams close their sockets. The ring exits after this (a member), the buffers after it.
Reactor::~Reactor() {
    SSL_CTX_free(ctx_);
    SSL_CTX_free(next_ctx_.exchange(nullptr));
}

void Reactor::set_tls_context(SSL_CTX* ctx) noexcept {
    SSL_CTX_up_ref(ctx);
    // A context posted earlier and not yet taken is simply replaced.
    SSL_CTX_free(next_ctx_.exchange(ctx, std::memory_order_acq_rel));
    wake();
}

void Reactor::take_tls_context() noexcept {
    if (SSL_CTX* n = next_ctx_.exchange(nullptr, std::memory_order_acq_rel)) {
        SSL_CTX_free(ctx_);  // connections made from it hold their own references
        ctx_ = n;
    }
}

void Reactor::run() {
    try {
        ring_.start();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ringmail: %s\n", e.what());
        return;
    }
    // iconv_open may read gconv modules from disk: the common converters are opened now,
    // before mail flows, never while a message is parsed on this thread.
    mime::warm_up_charsets();
    if (shared_.config.completion_batch &&
        !ring_.set_batching(shared_.config.completion_batch, shared_.config.completion_wait_us) && index_ == 0)
        log::note("completion_batch: this kernel cannot batch completions (Linux 6.12 or later); off");
    take_tls_context();
    log_file_ = log::writer_running();
    if (plain_listener_) plain_listener_->arm();
    if (tls_listener_) tls_listener_->arm();
    inbox_.arm();
    tick_.arm();
    for (;;) {
        static constexpr __kernel_timespec kWait{60, 0};  // the ticker ends a wait every second anyway
        const int rc = ring_.turn(&kWait);
        if (rc < 0) {
            std::fprintf(stderr, "ringmail: io_uring_enter: %s\n", std::strerror(-rc));
            return;
        }
        // Every turn, whatever woke it: an answer whose eventfd write is still on its way
        // is taken now, and none waits for a later wake-up.
        take_tls_context();
        inbox_.drain([this](JobDone&& r) { on_answer(std::move(r)); });
        if (!stopping_ && shared_.stopping.load(std::memory_order_acquire)) begin_stop();
        buffers_->publish();
        flush();
        if (log_file_) log::flush(log_);  // to the log's writer thread, no system call
        else log_out_.post(log_);          // written by the next io_uring_enter, with the sends
        if (shared_.events) shared_.events->post(events_);
        // At the end the listeners' accept requests must have completed too: each holds
        // its socket in LISTEN state, and a server started right after this one exits
        // would find the port in use (io_uring tears a ring down after the process).
        const bool listening = (plain_listener_ && plain_listener_->armed()) || (tls_listener_ && tls_listener_->armed());
        if (stopping_ && ((live_ == 0 && !listening) || now() >= deadline_)) {
            ring_.submit();  // the last closes are queued SQEs, not yet done
            log_out_.finish();  // every line out before the server says it stopped
            log::flush(log_);   // lines of the completions finish() handled
            return;
        }
    }
}

// A completion of one of our streams. A late one for a connection freed since is dropped
// (a receive buffer it carries still goes back to the ring).
void Reactor::on_completion(const io_uring_cqe& cqe, std::uint64_t p) noexcept {
    Connection* c = conns_.find(io::SlotId::unpack(io::Stream::name_of(p)));
    if (!c) {
        if (cqe.res > 0 && (cqe.flags & IORING_CQE_F_BUFFER)) buffers_->recycle(io::BufferRing::id(cqe.flags));
        return;
    }
    auto emit = [this, c](io::StreamEvent ev, std::string_view bytes) noexcept { on_stream(*c, ev, bytes); };
    c->stream.on_completion(cqe, p, emit);
    maybe_free(*c);
}

void Reactor::refuse(int fd, const char* reply) noexcept {
    [[maybe_unused]] const ssize_t w = ::send(fd, reply, std::strlen(reply), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::close(fd);
}

// Per-address limits: open connections and new ones per minute. This machine's own
// addresses (127.0.0.1, ::1) are exempt: benchmarks and local tools run from there.
bool Reactor::admit(const std::string& ip) noexcept {
    const Config& cfg = shared_.config;
    if ((cfg.max_connections_per_ip == 0 && cfg.max_new_connections_per_ip == 0) || ip == "127.0.0.1" ||
        ip == "::1" || ip == "::ffff:127.0.0.1")
        return true;
    ClientCount& n = clients_[ip];
    if (now() >= n.minute_ends) {
        n.minute_ends = now() + 60'000;
        n.new_in_minute = 0;
    }
    const bool too_many = cfg.max_connections_per_ip != 0 && n.open >= cfg.max_connections_per_ip;
    const bool too_fast = cfg.max_new_connections_per_ip != 0 && n.new_in_minute >= cfg.max_new_connections_per_ip;
    if (too_many || too_fast) {
        log::Line("refused").str("ip", ip).str("reason", too_many ? "too many open connections from this address"
                                                                    : "too many new connections from this address")
            .num("reply", 421).append_to(log_);
        return false;
    }
    ++n.open;
    ++n.new_in_minute;
    return true;
}

void Reactor::on_accepted(int fd, unsigned listener) noexcept {
    const bool tls = listener == kTlsListener;
    if (stopping_ || live_ + orphans_ >= shared_.config.max_connections || (tls && !ctx_))
        return refuse(fd, "421 4.7.0 Too many connections, try again later\r\n");
    // TCP_NODELAY comes from the listener. The peer's address is looked up when
    // something needs it: per-address limits, or AUTH over plaintext from off this host.
    const bool limited = shared_.config.max_connections_per_ip != 0 || shared_.config.max_new_connections_per_ip != 0;
    Peer peer{{}, shared_.config.local};
    if (limited || (!peer.loopback && shared_.config.auth_requires_tls)) peer = peer_of(fd);
    if (limited && !admit(peer.ip))
        return refuse(fd, "421 4.7.0 Too many connections from your address, try again later\r\n");
    proto::Features f = shared_.features;
    f.starttls = f.starttls && !tls;
    // RFC 4954 4: no passwords in the clear, except from this machine (as Postfix's
    // smtpd_tls_auth_only, which exempts nothing; loopback cannot be sniffed).
    f.auth_requires_tls = shared_.config.auth_requires_tls && !peer.loopback;
    Connection& c = *conns_.emplace_named(ring_, *buffers_, id_, shared_, f).second;
    c.counted = limited && clients_.count(peer.ip) != 0;
    c.ip = std::move(peer.ip);
    if (c.ip.empty()) c.ip = peer_of(fd).ip;  // for the log
    c.serial = ++serials_;
    c.opened = now();
    log::Line("connect").str("conn", conn_name(index_, c.serial)).str("ip", c.ip)
        .str("port", tls ? "tls" : "plain").append_to(log_);
    ++live_;
    counters_.connections_accepted.add();
    counters_.connections_open.add();
    c.stream.adopt(fd);
    if (tls) {
        c.implicit_tls = true;
        start_tls(c);  // the greeting waits for the handshake (RFC 8314 3.3)
    } else {
        c.session.greet(now());
        mark_dirty(c);
    }
}

// Out of descriptors: RFC 5321 4.2.3 421 "service not available" with 4.3.2 (RFC 3463:
// system not accepting messages), so the client retries later instead of hanging.
void Reactor::on_refused(int fd, unsigned) noexcept {
    static constexpr char busy[] = "421 4.3.2 Too busy (out of resources), try again later\r\n";
    [[maybe_unused]] const ssize_t w = ::send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    ::close(fd);
}

void Reactor::on_stream(Connection& c, io::StreamEvent ev, std::string_view bytes) noexcept {
    switch (ev) {
    case io::StreamEvent::Data:
        if (c.reading()) on_data(c, bytes.data(), bytes.size());
        return;
    case io::StreamEvent::TlsReady:
        counters_.tls_ok.add();
        c.session.tls_started();
        if (c.implicit_tls) c.session.greet(now());
        mark_dirty(c);
        return;
    case io::StreamEvent::TlsFailed:
        // A failed handshake, plaintext on the TLS port, a bad record: send the alert
        // OpenSSL queued and close; nothing else of this connection is read.
        if (!c.session.tls_active()) counters_.tls_failed.add();  // not a bad record later on
        if (c.life != Life::Closed) c.life = Life::Closing;
        mark_dirty(c);
        return;
    case io::StreamEvent::PeerClosed:
        on_peer_done(c);
        return;
    case io::StreamEvent::Writable:
        mark_dirty(c);  // output that waited for the send in flight, TLS records, or the close
        return;
    case io::StreamEvent::Failed:
        close_conn(c);  // reset or error: nobody is left to read replies
        return;
    case io::StreamEvent::Connected:
        return;
    }
}

// The client closed its side (it may have pipelined QUIT and shut down writing): answer
// what it sent, including a verdict still on its way, then close.
void Reactor::on_peer_done(Connection& c) noexcept {
    if (c.life != Life::Open) return;
    c.life = c.waiting ? Life::PeerDone : Life::Closing;
    mark_dirty(c);
}

// After STARTTLS's 220 (which leaves in plaintext, first) or on accept on the TLS port.
void Reactor::start_tls(Connection& c) noexcept {
    const proto::Timestamp deadline = now() + std::uint64_t(shared_.config.tls_handshake_timeout) * 1000;
    if (!ctx_ || !c.stream.start_tls(ctx_, io::TlsStream::Side::Server, deadline, c.session.output()))
        c.life = Life::Closing;
    mark_dirty(c);
}

void Reactor::on_data(Connection& c, const char* p, std::size_t n) noexcept {
    if (c.waiting || c.output_blocked || c.pending_off < c.pending.size()) {
        // Bytes of receives already under way when reading paused land here too.
        c.pending.append(p, n);
        if (!c.waiting && !c.output_blocked) drive_pending(c);
        else if (c.pending.size() - c.pending_off > kMaxPending) c.stream.pause_reading();
        return;
    }
    const std::size_t used = drive(c, {p, n});
    if (used < n) {
        c.pending.assign(p + used, n - used);
        c.pending_off = 0;
    }
}

std::size_t Reactor::drive(Connection& c, std::span<const char> in) noexcept {
    std::size_t off = 0;
    std::size_t slice = kFeedSlice;
    for (;;) {
        if (c.session.output().size() >= kMaxOutput) {
            c.output_blocked = true;  // flush() lifts it once the stream took the replies
            c.stream.pause_reading();
            mark_dirty(c);
            return off;
        }
        const std::size_t n = std::min(in.size() - off, slice);
        if (const std::uint64_t budget = shared_.config.max_inflight_bytes) {
            // Counted in `used` but free for this reactor's messages: its credit.
            const std::uint64_t used = shared_.inflight.load(std::memory_order_relaxed);
            c.session.set_storage_available((used >= budget ? 0 : budget - used) + credit_);
        }
        const proto::Step st = c.session.feed(in.subspan(off, n), now());
        off += st.consumed;
        if (c.session.message_seq() != c.log_seq) {  // DATA or the first BDAT: a message begins
            c.log_seq = c.session.message_seq();
            c.message_began = now();
        }
        if (shared_.split) read_along(c);
        account(c);
        if (!c.session.output().empty()) mark_dirty(c);
        switch (st.need) {
        case proto::Need::Input:
            if (off == in.size()) return off;
            if (st.consumed == 0) {
                if (n == in.size() - off) return off;  // a line split across receives
                slice = in.size() - off;                // a line longer than the slice
            } else {
                slice = kFeedSlice;
            }
            break;
        case proto::Need::Close:
            c.life = Life::Closing;
            return off;
        case proto::Need::StartTls:
            // RFC 3207 5, CVE-2011-0411: whatever the client pipelined behind STARTTLS
            // is dropped here, unread; only bytes that arrive later go to the handshake.
            start_tls(c);
            return in.size();
        default:
            if (!dispatch(c)) return off;  // a handler decides; resume on its verdict
            break;
        }
    }
}

// Feeds the MIME parser the body bytes the session added since the last call (one pass
// over bytes still in cache; no second read of the whole message at its end).
void Reactor::read_along(Connection& c) {
    const std::string_view body = c.session.body_so_far();
    if (c.session.message_seq() != c.mime_seq) {  // a new message began
        c.mime_seq = c.session.message_seq();
        give_parser(std::move(c.mime));
        c.mime_fed = 0;
    }
    if (body.size() <= c.mime_fed) return;
    if (!c.mime) c.mime = take_parser();
    c.mime->feed({body.data() + c.mime_fed, body.size() - c.mime_fed});
    c.mime_fed = body.size();
}

// Counts the message's memory now (the body, and as much again for the MIME split reading
// along) in the global budget. A message that would cross max_inflight_bytes is dropped:
// the session reads it to its end and answers 452 4.3.1. (The body's buffer may be
// reserved larger, proto/body_reader.cpp, but only pages written are backed.)
void Reactor::account(Connection& c) noexcept {
    const std::uint64_t want = c.session.body_so_far().size() * (shared_.split ? 2 : 1);
    if (want > c.charged) held_bodies_ = true;
    if (want <= c.charged) {
        credit_ += c.charged - want;
        c.charged = want;
        trim_credit();
        return;
    }
    const std::uint64_t add = want - c.charged;
    c.charged = want;
    if (add <= credit_) {  // taken ahead: within the budget when it was taken
        credit_ -= add;
        return;
    }
    // Beyond the credit: the rest and a new chunk ahead from the shared counter, or only
    // the rest when the chunk would cross the budget.
    const std::uint64_t need = add - credit_;
    const std::uint64_t budget = shared_.config.max_inflight_bytes;
    std::uint64_t total = shared_.inflight.fetch_add(need + credit_chunk_, std::memory_order_relaxed) + need + credit_chunk_;
    if (budget != 0 && total > budget) {
        shared_.inflight.fetch_sub(credit_chunk_, std::memory_order_relaxed);
        total -= credit_chunk_;
        credit_ = 0;
    } else {
        credit_ = credit_chunk_;
    }
    if (budget == 0 || total <= budget) return;
    c.session.drop_body();
    give_parser(std::move(c.mime));
    c.mime_fed = 0;
    release(c);
    if (now() >= budget_logged_ + 1000) {  // once a second at most
        budget_logged_ = now();
        log::Line("budget").str("conn", conn_name(index_, c.serial))
            .str("reason", "max_inflight_bytes reached; the message is read to its end and answered 452 4.3.1")
            .num("max_inflight_bytes", budget).append_to(log_);
    }
}

std::unique_ptr<mime::StreamParser> Reactor::take_parser() {
    parsers_used_ = true;
    if (parsers_.empty()) return std::make_unique<mime::StreamParser>();
    std::unique_ptr<mime::StreamParser> p = std::move(parsers_.back());
    parsers_.pop_back();
    return p;
}

// Reset here, when the message is done with it (finished, dropped or abandoned).
void Reactor::give_parser(std::unique_ptr<mime::StreamParser> p) noexcept {
    if (!p || parsers_.size() >= kMaxSpareParsers) return;
    p->reset();
    parsers_.push_back(std::move(p));  // no allocation: reserved in the constructor
}

void Reactor::release(Connection& c) noexcept {
    if (!c.charged) return;
    credit_ += std::exchange(c.charged, 0);
    trim_credit();
}

// More than two chunks ahead: the rest goes back to the shared counter.
void Reactor::trim_credit() noexcept {
    if (credit_ <= 2 * credit_chunk_) return;
    shared_.inflight.fetch_sub(credit_ - credit_chunk_, std::memory_order_relaxed);
    credit_ = credit_chunk_;
}

void Reactor::drive_pending(Connection& c) noexcept {
    const std::size_t left = c.pending.size() - c.pending_off;
    c.pending_off += drive(c, {c.pending.data() + c.pending_off, left});
    if (c.pending_off == c.pending.size()) {
        c.pending.clear();
        c.pending_off = 0;
    } else if (c.pending_off > 4096 && c.pending_off * 2 > c.pending.size()) {
        c.pending.erase(0, c.pending_off);
        c.pending_off = 0;
    }
}

// Resolves the session's question now when no user code is involved; otherwise hands it
// to a sink and returns false.
bool Reactor::dispatch(Connection& c) noexcept {
    proto::ServerSession& s = c.session;
    std::unique_ptr<Job> job;
    JobSink* sink = shared_.pool;
    switch (s.need()) {
    case proto::Need::Recipient:
        // The body of this transaction goes into a recycled buffer (none is kept per
        // connection between messages).
        if (!s.has_body_buffer() && !bodies_.empty() && shared_.keeps_bodies()) {
            s.lend_body_buffer(bodies_.take());
            bodies_used_ = true;
        }
        if (shared_.relay_access && !relay_allowed(c)) {
            s.resolve({proto::Outcome::Reject, "Relay access denied", "5.7.1", 554});
            return true;
        }
        if (!shared_.ask_rcpt) {  // the default on_rcpt: no allocation, no queue hop
            s.resolve({});
            return true;
        }
        job = std::make_unique<Job>();
        job->kind = Job::Kind::Rcpt;
        job->a.assign(s.recipient());
        break;
    case proto::Need::Auth:
        if (!shared_.ask_auth) {
            s.resolve({});
            return true;
        }
        if (logins_blocked(c)) {
            s.resolve({proto::Outcome::TempFail, "Too many failed logins from your address, try again later"});
            return true;
        }
        sink = shared_.auth_pool;
        job = std::make_unique<Job>();
        job->kind = Job::Kind::Auth;
        job->a.assign(s.auth_user());
        job->b.assign(s.auth_password());
        break;
    case proto::Need::Message: {
        std::optional<mime::ParsedMail> parsed;
        if (shared_.split) {
            if (!c.mime) c.mime = take_parser();  // an empty message
            parsed = c.mime->finish();
            give_parser(std::move(c.mime));
            c.mime_fed = 0;
        }
        sink = shared_.mail_sink;
        if (!sink) {  // discard: parsed as any message is, then accepted and dropped
            log_message(c, proto::Outcome::Accept, "discarded");
            bodies_.give(s.discard_message());
            release(c);
            s.resolve({});
            return true;
        }
        if (!c.note) c.note = std::make_unique<Connection::MessageNote>();
        c.note->from.assign(s.sender());
        c.note->rcpts = s.recipients().size();
        c.note->size = s.body_so_far().size();
        job = std::make_unique<Job>();
        job->kind = Job::Kind::Mail;
        job->charge.pool = &shared_.inflight;  // the bytes go with the job
        job->charge.bytes = std::exchange(c.charged, 0);
        if (c.ip.empty()) c.ip = peer_of(c.stream.fd()).ip;  // once per connection, for the trace field
        job->mail = make_mail(s.take_message(), c.ip, parsed ? &*parsed : nullptr);
        if (c.stream.tls()) job->mail.tls = c.stream.tls()->describe();
        break;
    }
    default:
        return true;
    }
    job->home = {index_, c.id, ++c.job_seq};
    if (!c.alive) c.alive = std::make_shared<std::atomic<bool>>(true);
    job->alive = c.alive;
    if (!sink->submit(job)) {
        // Shed load (RFC 3463 4.3.2: system not accepting messages) rather than queue
        // without end behind slow handlers.
        if (s.need() == proto::Need::Message) log_message(c, proto::Outcome::TempFail, "handler queue full");
        s.resolve({proto::Outcome::TempFail, "Server busy, try again later", "4.3.2"});
        return true;
    }
    c.waiting = true;
    c.job_deadline = now() + std::uint64_t(shared_.config.handler_timeout) * 1000;
    return false;
}

// A handler's answer. The connection may have closed (and its slot been reused) since
// the job left: then its name is dead and the answer is dropped.
void Reactor::on_answer(JobDone&& r) noexcept {
    Connection* found = conns_.find(r.conn);
    // Stale: the connection is gone, or its job timed out and was answered already.
    if (!found || !found->waiting || found->job_seq != r.seq) {
        if (orphans_ > 0) --orphans_;
        return;
    }
    if (found->session.need() == proto::Need::Auth && r.outcome == proto::Outcome::Reject)
        count_login_failure(*found);
    resolve(*found, {r.outcome, r.text});
}

// The session's question answered (by its handler, or by us at the handler deadline):
// the reply goes out and the input held meanwhile is fed on.
void Reactor::resolve(Connection& c, const proto::Resolution& r) noexcept {
    c.waiting = false;
    if (c.life == Life::Closed) {
        maybe_free(c);
        return;
    }
    if (c.session.need() == proto::Need::Message) log_message(c, r.outcome, r.text);
    c.session.resolve(r);
    mark_dirty(c);
    drive_pending(c);
    if (c.life == Life::PeerDone && !c.waiting) c.life = Life::Closing;
    if (!c.waiting && !c.output_blocked && c.reading()) c.stream.resume_reading();
}

// One line per message with a verdict: who sent it, to how many, its size, the result
// and the handler's text (for Maildir, the file it went to), and how long it took from
// DATA on. Reads the envelope still in the session (or, for a job, the job's copy).
void Reactor::log_message(Connection& c, proto::Outcome outcome, std::string_view text) noexcept {
    (outcome == proto::Outcome::Accept ? c.accepted : c.refused) += 1;
    log::Line line("message");
    line.str("conn", conn_name(index_, c.serial)).str("ip", c.ip);
    const std::size_t size = c.note ? c.note->size : c.session.message_size();
    if (c.note) {  // a job's message; else the envelope is still in the session
        line.str("from", c.note->from).num("rcpts", c.note->rcpts).num("size", size);
    } else {
        line.str("from", c.session.sender()).num("rcpts", c.session.recipients().size()).num("size", size);
    }
    counters_.messages_received.add();
    if (outcome == proto::Outcome::Accept) {
        counters_.messages_accepted.add();
        counters_.bytes_accepted.add(size);
    } else {
        counters_.messages_rejected.add();
    }
    line.str("result", outcome == proto::Outcome::Accept ? "accepted" : outcome == proto::Outcome::TempFail ? "deferred"
                                                                                                           : "rejected")
        .str("text", text).num("ms", now() - c.message_began).append_to(log_);
    if (shared_.events) event_message(c, outcome, text, size);
    c.note.reset();
}

// The event_log's line for a message with a verdict: the queue id from the reply ("OK
// queued as ID"; empty when refused, or for another handler), its envelope and the reply.
void Reactor::event_message(Connection& c, proto::Outcome outcome, std::string_view text, std::size_t size) noexcept {
    constexpr std::string_view queued = "queued as ";
    const std::size_t at = text.find(queued);
    const std::string_view id = at == std::string_view::npos ? std::string_view{} : text.substr(at + queued.size(), 16);
    log::Line line("reception", log::Format::Json);
    line.str("id", outcome == proto::Outcome::Accept ? id : std::string_view{})
        .str("result", outcome == proto::Outcome::Accept ? "accepted" : outcome == proto::Outcome::TempFail ? "deferred"
                                                                                                            : "rejected")
        .str("ip", c.ip)
        .str("from", c.note ? std::string_view(c.note->from) : c.session.sender())
        .num("rcpts", c.note ? c.note->rcpts : c.session.recipients().size())
        .num("size", size)
        .str("reply", text)
        .append_to(events_);
}

// handler = queue: a recipient in relay_domains, or a client that may relay anywhere (in
// relay_networks, or logged in).
bool Reactor::relay_allowed(Connection& c) noexcept {
    const RelayAccess& access = *shared_.relay_access;
    if (access.domain_allowed(c.session.recipient()) || c.session.authenticated()) return true;
    if (c.relay_net < 0) {
        if (c.ip.empty()) c.ip = peer_of(c.stream.fd()).ip;
        c.relay_net = access.network_allowed(c.ip) ? 1 : 0;
    }
    return c.relay_net == 1;
}

bool Reactor::logins_blocked(Connection& c) noexcept {
    if (c.ip.empty()) c.ip = peer_of(c.stream.fd()).ip;
    const auto it = login_failures_.find(c.ip);
    return it != login_failures_.end() && it->second.until > now() &&
           it->second.count >= shared_.config.max_auth_failures_per_ip;
}

void Reactor::count_login_failure(Connection& c) noexcept {
    if (c.ip.empty()) c.ip = peer_of(c.stream.fd()).ip;
    if (login_failures_.size() >= kMaxTrackedAddresses) {
        std::erase_if(login_failures_, [this](const auto& kv) { return kv.second.until <= now(); });
        if (login_failures_.size() >= kMaxTrackedAddresses) login_failures_.clear();  // XXX: a flood of addresses resets all
    }
    LoginFailures& f = login_failures_[c.ip];
    if (f.until <= now()) f.count = 0;
    ++f.count;
    f.until = now() + kLoginFailureWindowMs;
    c.hold_until = now() + std::min<proto::Timestamp>(1000 * f.count, kMaxLoginDelayMs);
}

void Reactor::on_tick() noexcept {
    // After a burst of messages, once this reactor holds no message memory of its own,
    // what was freed goes back to the system (checked once a second).
    if (!std::exchange(bodies_used_, false)) bodies_.clear();  // quiet for a second: freed below
    if (!std::exchange(parsers_used_, false)) parsers_.clear();
    // The credit goes back each second, so that the shared count is the bytes held.
    if (credit_) shared_.inflight.fetch_sub(std::exchange(credit_, 0), std::memory_order_relaxed);
    if (held_bodies_ && shared_.inflight.load(std::memory_order_relaxed) < (1u << 20)) {
        held_bodies_ = false;
        return_free_memory();
    }
    // Addresses with nothing open whose minute is over are forgotten, once a minute.
    if (++ticks_ % 60 == 0)
        std::erase_if(clients_, [this](const auto& kv) { return kv.second.open == 0 && now() >= kv.second.minute_ends; });
    conns_.for_each([this](io::SlotId, Connection& c) {
        if (c.life == Life::Closed) return;
        if (c.hold_until != 0 && now() >= c.hold_until) {
            c.hold_until = 0;
            mark_dirty(c);  // the held reply goes now
        }
        if (c.waiting && now() >= c.job_deadline) {
            // The handler is late: answer 451 4.3.0 (454 for a login) now; its answer,
            // when it comes, carries an old job number and is dropped.
            resolve(c, {proto::Outcome::TempFail, "Handler timed out, try again later"});
            ++orphans_;
            return;
        }
        if (c.stream.handshaking()) {
            // A client stalling mid-handshake holds only its SSL; it cannot be answered
            // in plaintext any more, so it is simply closed.
            if (c.stream.handshake_expired(now())) {
                counters_.tls_failed.add();
                close_conn(c);
                maybe_free(c);
            }
        } else if (c.life != Life::Closing && c.session.expire(now())) {  // RFC 5321 4.5.3.2
            c.life = Life::Closing;
            mark_dirty(c);
            // A client that reads nothing leaves our send hanging: the 421 cannot reach
            // it, and waiting for the send would keep it past the idle limit. Close now.
            if (c.stream.sending()) {
                close_conn(c);
                maybe_free(c);
            }
        }
    });
    if (stopping_ && now() >= deadline_) {
        conns_.for_each([this](io::SlotId, Connection& c) {
            close_conn(c);
            maybe_free(c);
        });
    }
}

void Reactor::begin_stop() noexcept {
    stopping_ = true;
    deadline_ = now() + std::uint64_t(shared_.config.shutdown_grace) * 1000;
    if (plain_listener_) plain_listener_->stop();
    if (tls_listener_) tls_listener_->stop();
    conns_.for_each([this](io::SlotId, Connection& c) { mark_dirty(c); });  // flush() closes idle ones
}

void Reactor::mark_dirty(Connection& c) noexcept {
    if (c.dirty) return;
    c.dirty = true;
    dirty_.push_back(&c);
}

void Reactor::flush() noexcept {
    // Index loop: nothing below appends, but an index stays valid if something did.
    for (std::size_t i = 0; i < dirty_.size(); ++i) {
        Connection& c = *dirty_[i];
        c.dirty = false;
        if (c.life != Life::Closed && c.hold_until > now() && !stopping_) {
            // A failed login's reply is held (the tick sends it); so is what follows it.
        } else if (c.life != Life::Closed) {
            if (stopping_ && c.life != Life::Closing && c.stream.handshaking()) {
                c.life = Life::Closing;  // nothing to finish yet
            } else if (stopping_ && c.life != Life::Closing && c.session.idle()) {
                c.session.shut_down();  // 421: a transaction in flight would finish first
                c.life = Life::Closing;
            }
            if (c.life == Life::Closing) c.stream.stop_reading();
            if (!c.stream.send(c.session.output(), c.life == Life::Closing)) c.life = Life::Closing;
            if (c.output_blocked && c.session.output().size() < kMaxOutput) {
                // The stream took the replies (the last send finished): go on with the
                // input held meanwhile, and read more only once that has not blocked us
                // again. (Resuming first let each pause let in a receive burst, and the
                // held input grew without bound while the peer read nothing.)
                c.output_blocked = false;
                if (c.reading() && !c.waiting) {
                    drive_pending(c);
                    if (!c.output_blocked && !c.waiting) c.stream.resume_reading();
                }
            }
            if (!c.stream.sending() && c.life == Life::Closing) close_conn(c);
        }
        maybe_free(c);
    }
    dirty_.clear();
}

void Reactor::close_conn(Connection& c) noexcept {
    if (c.life == Life::Closed) return;
    c.life = Life::Closed;
    if (c.alive) c.alive->store(false, std::memory_order_release);
    if (c.waiting) {
        c.waiting = false;
        ++orphans_;
    }
    c.stream.close();
    release(c);
    log::Line("disconnect").str("conn", conn_name(index_, c.serial)).str("ip", c.ip)
        .num("accepted", c.accepted).num("refused", c.refused).num("ms", now() - c.opened).append_to(log_);
    --live_;
    counters_.connections_open.sub();
    if (c.counted) {
        const auto it = clients_.find(c.ip);
        if (it != clients_.end() && it->second.open > 0 && --it->second.open == 0 && now() >= it->second.minute_ends)
            clients_.erase(it);
    }
}

// A closed connection is freed once no request names it and it is off the flush list.
// A job still out does not keep it: its answer will find the name dead.
void Reactor::maybe_free(Connection& c) noexcept {
    if (c.life != Life::Closed || c.stream.ops() != 0 || c.dirty) return;
    conns_.erase(c.id);
}

}  // namespace ringmail::smtpd
