// engine/reactor.cpp — the completion loop. Per batch of completions: feed sessions,
// recycle receive buffers to the ring, then one send per connection with output
// (replies to a pipelined group leave together, RFC 2920 3). With TLS, received bytes go
// through the connection's TlsStream first and replies are encrypted in flush().
#include "engine/reactor.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <thread>

#include "engine/mail_builder.hpp"

namespace ringmail::engine {
namespace {

constexpr unsigned kBufCount = 256;       // per reactor, shared by all its connections
constexpr unsigned kBufSize = 32 * 1024;  // idle connections hold none of these
constexpr unsigned kBufGroup = 0;
// While a handler decides, input waits in `pending`; past this we stop reading.
constexpr std::size_t kMaxPending = 256 * 1024;

enum : std::uint64_t { kIgnore = 0, kAccept = 8, kWake = 16, kTimer = 24, kAcceptTls = 32 };
enum : std::uint64_t { kRecvTag = 1, kSendTag = 2, kTagMask = 7 };

std::uint64_t tag(Connection* c, std::uint64_t t) { return reinterpret_cast<std::uint64_t>(c) | t; }

proto::Timestamp monotonic_ms() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<proto::Timestamp>(ts.tv_sec) * 1000 + static_cast<proto::Timestamp>(ts.tv_nsec / 1000000);
}

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

}  // namespace

Reactor::Reactor(Shared& shared, int listen_fd, int tls_listen_fd)
    : shared_(shared), listen_fd_(listen_fd), tls_listen_fd_(tls_listen_fd) {
    io_uring_params p{};
    // One thread submits and reaps; completions run only when we ask for them. Created
    // disabled so that the reactor thread, enabling it in run(), becomes its one issuer.
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
              IORING_SETUP_R_DISABLED;
    int rc = io_uring_queue_init_params(4096, &ring_, &p);
    if (rc == -EINVAL) {  // older kernels: plain ring
        p = {};
        rc = io_uring_queue_init_params(4096, &ring_, &p);
    }
    if (rc < 0) throw std::runtime_error(std::string("io_uring: ") + std::strerror(-rc));

    buffers_.emplace(ring_, kBufCount, kBufSize, kBufGroup);

    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
}

Reactor::~Reactor() {
    io_uring_queue_exit(&ring_);
    // run() returns once no connection is live, before the completions of the last
    // closes (cancelled recvs) arrive; the sinks have stopped, so no verdict will come
    // either. Free what is left so that nothing leaks at exit (LeakSanitizer runs).
    for (Connection* list : {conns_, dead_}) {
        while (list) {
            Connection* next = list->next;
            if (list->fd >= 0) ::close(list->fd);
            delete list;
            list = next;
        }
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (tls_listen_fd_ >= 0) ::close(tls_listen_fd_);
    SSL_CTX_free(ctx_);
    SSL_CTX_free(next_ctx_.exchange(nullptr));
    // Connections still here were abandoned at the end of the shutdown grace time.
}

io_uring_sqe* Reactor::sqe() noexcept {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (!s) {
        io_uring_submit(&ring_);
        s = io_uring_get_sqe(&ring_);
    }
    return s;
}

void Reactor::post(Result&& r) noexcept {
    while (!results_.push(std::move(r))) std::this_thread::yield();  // off-reactor: may wait
    wake();
}

void Reactor::wake() noexcept {
    if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;  // one write per drain
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
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

void Reactor::arm_accept(bool tls) noexcept {
    io_uring_sqe* s = sqe();
    io_uring_prep_multishot_accept(s, tls ? tls_listen_fd_ : listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, tls ? kAcceptTls : kAccept);
    (tls ? tls_accept_armed_ : accept_armed_) = true;
}

void Reactor::arm_wake() noexcept {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
    io_uring_sqe_set_data64(s, kWake);
}

void Reactor::arm_timer() noexcept {
    io_uring_sqe* s = sqe();
    io_uring_prep_timeout(s, &tick_, 0, 0);
    io_uring_sqe_set_data64(s, kTimer);
}

void Reactor::arm_recv(Connection& c) noexcept {
    io_uring_sqe* s = sqe();
    io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kBufGroup;
    io_uring_sqe_set_data64(s, tag(&c, kRecvTag));
    c.recv_armed = true;
    c.recv_paused = false;
    ++c.ops;
}

void Reactor::run() {
    if (ring_.flags & IORING_SETUP_R_DISABLED) {
        // liburing 2.3 declares io_uring_enable_rings() but does not export it.
        if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0) {
            std::fprintf(stderr, "ringmail: io_uring enable: %s\n", std::strerror(errno));
            return;
        }
    }
    // io_uring_enter then names the ring by its registered index: no file lookup per
    // call. Older kernels refuse it, and the plain descriptor is used.
    (void)io_uring_register_ring_fd(&ring_);
    take_tls_context();
    arm_accept(false);
    if (tls_listen_fd_ >= 0) arm_accept(true);
    arm_wake();
    arm_timer();
    now_ = monotonic_ms();
    for (;;) {
        const int rc = io_uring_submit_and_wait(&ring_, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            std::fprintf(stderr, "ringmail: io_uring_enter: %s\n", std::strerror(-rc));
            return;
        }
        now_ = monotonic_ms();
        unsigned head = 0;
        unsigned n = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            on_cqe(*cqe);
            ++n;
        }
        io_uring_cq_advance(&ring_, n);
        buffers_->publish();
        flush();
        if (stopping_ && (count_ == 0 || now_ >= deadline_)) {
            io_uring_submit(&ring_);  // the last closes are queued SQEs, not yet done
            return;
        }
    }
}

void Reactor::on_cqe(const io_uring_cqe& cqe) noexcept {
    const std::uint64_t ud = cqe.user_data;
    switch (ud) {
    case kIgnore:
        return;
    case kAccept:
    case kAcceptTls:
        on_accept(cqe.res, cqe.flags, ud == kAcceptTls);
        return;
    case kWake:
        wake_pending_.store(false, std::memory_order_release);
        take_tls_context();
        drain_results();
        if (shared_.stopping.load(std::memory_order_acquire) && !stopping_) begin_stop();
        arm_wake();
        return;
    case kTimer:
        on_tick();
        arm_timer();
        return;
    default:
        break;
    }
    auto* c = reinterpret_cast<Connection*>(ud & ~kTagMask);
    if ((ud & kTagMask) == kRecvTag) on_recv(*c, cqe.res, cqe.flags);
    else on_send(*c, cqe.res);
    maybe_free(*c);
}

void Reactor::on_accept(int res, unsigned flags, bool tls) noexcept {
    if (!(flags & IORING_CQE_F_MORE)) {
        (tls ? tls_accept_armed_ : accept_armed_) = false;
        if (!stopping_) arm_accept(tls);
    }
    if (res < 0) {
        if (res != -ECANCELED) std::fprintf(stderr, "ringmail: accept: %s\n", std::strerror(-res));
        return;
    }
    const int fd = res;
    if (stopping_ || count_ >= shared_.config.max_connections || (tls && !ctx_)) {
        static constexpr char busy[] = "421 4.7.0 Too many connections, try again later\r\n";
        [[maybe_unused]] const ssize_t w = ::send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        ::close(fd);
        return;
    }
    // TCP_NODELAY comes from the listener. The peer's address is looked up only when
    // something needs it: a loopback-only listener (local = true) has loopback peers.
    Peer peer{{}, shared_.config.local};
    if (!peer.loopback && shared_.config.auth_requires_tls) peer = peer_of(fd);
    proto::Features f = shared_.features;
    f.starttls = f.starttls && !tls;
    // RFC 4954 4: no passwords in the clear, except from this machine (as Postfix's
    // smtpd_tls_auth_only, which exempts nothing; loopback cannot be sniffed).
    f.auth_requires_tls = shared_.config.auth_requires_tls && !peer.loopback;
    auto* c = new Connection(shared_, f);
    c->fd = fd;
    c->ip = std::move(peer.ip);
    c->next = conns_;
    if (conns_) conns_->prev = c;
    conns_ = c;
    ++count_;
    if (tls) {
        c->implicit_tls = true;
        start_tls(*c);  // the greeting waits for the handshake (RFC 8314 3.3)
    } else {
        c->session.greet(now_);
        mark_dirty(*c);
    }
    arm_recv(*c);
}

void Reactor::on_recv(Connection& c, int res, unsigned flags) noexcept {
    if (res > 0) {
        const unsigned bid = BufferRing::id(flags);
        const char* p = buffers_->data(bid);
        if (!c.dead && !c.closing) {
            if (c.tls) on_tls_data(c, p, static_cast<std::size_t>(res));
            else on_data(c, p, static_cast<std::size_t>(res));
        }
        buffers_->recycle(bid);
    }
    if (!(flags & IORING_CQE_F_MORE)) {
        c.recv_armed = false;
        --c.ops;
    }
    if (res == 0) {
        // The client closed its side (it may have pipelined QUIT and shut down writing):
        // answer what it sent, including a verdict still on its way, then close.
        c.eof = true;
        if (!c.waiting) {
            c.closing = true;
            mark_dirty(c);
        }
        return;
    }
    if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
        close_conn(c);  // reset or error: nobody is left to read replies
        return;
    }
    if (!c.recv_armed && !c.dead && !c.closing && !c.recv_paused && !c.eof) arm_recv(c);
}

// Ciphertext in: handshake, then decrypted bytes to the session as on a plain connection.
void Reactor::on_tls_data(Connection& c, const char* p, std::size_t n) noexcept {
    plain_.clear();
    const TlsStream::Status st = c.tls->receive({p, n}, plain_);
    if (c.tls->has_output()) mark_dirty(c);
    if (st == TlsStream::Status::Failed) {
        // A failed handshake, plaintext on the TLS port, a bad record: send the alert
        // OpenSSL queued and close; nothing else of this connection is read.
        c.handshaking = false;
        c.closing = true;
        mark_dirty(c);
        return;
    }
    if (c.handshaking && c.tls->established()) {
        c.handshaking = false;
        c.session.tls_started();
        if (c.implicit_tls) c.session.greet(now_);
        mark_dirty(c);
    }
    if (!plain_.empty()) on_data(c, plain_.data(), plain_.size());
    if (st == TlsStream::Status::Closed && !c.closing) {  // close_notify: as a FIN
        c.eof = true;
        if (!c.waiting) {
            c.closing = true;
            mark_dirty(c);
        }
    }
}

// After STARTTLS's 220 (which leaves in plaintext, first) or on accept on the TLS port.
void Reactor::start_tls(Connection& c) noexcept {
    c.clear_out += c.session.output();
    c.session.output().clear();
    c.tls = ctx_ ? TlsStream::create(ctx_) : nullptr;
    if (!c.tls) {
        c.closing = true;
    } else {
        c.handshaking = true;
        c.handshake_deadline = now_ + std::uint64_t(shared_.config.tls_handshake_timeout) * 1000;
    }
    mark_dirty(c);
}

void Reactor::on_data(Connection& c, const char* p, std::size_t n) noexcept {
    if (c.waiting || c.pending_off < c.pending.size()) {
        c.pending.append(p, n);
        if (!c.waiting) drive_pending(c);
        else if (c.pending.size() - c.pending_off > kMaxPending && c.recv_armed && !c.recv_paused) {
            io_uring_sqe* s = sqe();
            io_uring_prep_cancel64(s, tag(&c, kRecvTag), 0);
            io_uring_sqe_set_data64(s, kIgnore);
            c.recv_paused = true;
        }
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
    for (;;) {
        const proto::Step st = c.session.feed(in.subspan(off), now_);
        off += st.consumed;
        if (shared_.config.mime) read_along(c);
        if (!c.session.output().empty()) mark_dirty(c);
        switch (st.need) {
        case proto::Need::Input:
            return off;
        case proto::Need::Close:
            c.closing = true;
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
        c.mime.reset();
        c.mime_fed = 0;
    }
    if (body.size() <= c.mime_fed) return;
    if (!c.mime) c.mime = std::make_unique<mime::StreamParser>();
    c.mime->feed({body.data() + c.mime_fed, body.size() - c.mime_fed});
    c.mime_fed = body.size();
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
    Sink* sink = shared_.pool;
    switch (s.need()) {
    case proto::Need::Recipient:
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
        job = std::make_unique<Job>();
        job->kind = Job::Kind::Auth;
        job->a.assign(s.auth_user());
        job->b.assign(s.auth_password());
        break;
    case proto::Need::Message: {
        std::optional<mime::ParsedMail> parsed;
        if (shared_.config.mime) {
            if (!c.mime) c.mime = std::make_unique<mime::StreamParser>();  // an empty message
            parsed = c.mime->finish();
            c.mime.reset();
            c.mime_fed = 0;
        }
        sink = shared_.mail_sink;
        if (!sink) {  // discard: parsed as any message is, then accepted and dropped
            (void)s.take_message();
            s.resolve({});
            return true;
        }
        job = std::make_unique<Job>();
        job->kind = Job::Kind::Mail;
        if (c.ip.empty()) c.ip = peer_of(c.fd).ip;  // once per connection, for the trace field
        job->mail = make_mail(s.take_message(), c.ip, parsed ? &*parsed : nullptr);
        if (c.tls) job->mail.tls = c.tls->describe();
        break;
    }
    default:
        return true;
    }
    job->reactor = this;
    job->conn = &c;
    if (!sink->submit(job)) {
        s.resolve({proto::Outcome::TempFail, "Server busy, try again later"});
        return true;
    }
    c.waiting = true;
    return false;
}

void Reactor::drain_results() noexcept {
    Result r;
    while (results_.pop(r)) {
        Connection& c = *r.conn;
        c.waiting = false;
        if (c.dead) {
            maybe_free(c);
            continue;
        }
        c.session.resolve({r.outcome, r.text});
        mark_dirty(c);
        drive_pending(c);
        if (c.eof && !c.waiting) c.closing = true;
        if (c.recv_paused && !c.waiting && !c.closing && !c.recv_armed && !c.eof) arm_recv(c);
    }
}

void Reactor::on_tick() noexcept {
    for (Connection* c = conns_; c;) {
        Connection* next = c->next;  // close_conn() moves c to the dead list
        if (c->handshaking) {
            // A client stalling mid-handshake holds only its SSL; it cannot be answered
            // in plaintext any more, so it is simply closed.
            if (now_ >= c->handshake_deadline) {
                close_conn(*c);
                maybe_free(*c);
            }
        } else if (!c->dead && !c->closing && c->session.expire(now_)) {  // RFC 5321 4.5.3.2
            c->closing = true;
            mark_dirty(*c);
        }
        c = next;
    }
    if (stopping_ && now_ >= deadline_) {
        for (Connection* c = conns_; c;) {
            Connection* next = c->next;
            close_conn(*c);
            c = next;
        }
    }
}

void Reactor::begin_stop() noexcept {
    stopping_ = true;
    deadline_ = now_ + std::uint64_t(shared_.config.shutdown_grace) * 1000;
    for (auto [armed, ud] : {std::pair{accept_armed_, kAccept}, std::pair{tls_accept_armed_, kAcceptTls}}) {
        if (!armed) continue;
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, ud, 0);
        io_uring_sqe_set_data64(s, kIgnore);
    }
    // Close the listener as well: with it open, the kernel still completes handshakes
    // into its backlog, and those clients would wait unanswered until the grace time
    // ends. Closed, they get a reset now and new ones are refused. The accept request in
    // flight holds its own reference until the cancel above completes it.
    for (int* fd : {&listen_fd_, &tls_listen_fd_}) {
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
    }
    for (Connection* c = conns_; c; c = c->next) mark_dirty(*c);  // flush() closes idle ones
}

void Reactor::mark_dirty(Connection& c) noexcept {
    if (c.dirty) return;
    c.dirty = true;
    dirty_.push_back(&c);
}

void Reactor::flush() noexcept {
    // Index loop: closing a connection below may not append, but keep it simple and safe.
    for (std::size_t i = 0; i < dirty_.size(); ++i) {
        Connection& c = *dirty_[i];
        c.dirty = false;
        if (!c.dead) {
            if (stopping_ && !c.closing && c.handshaking) {
                c.closing = true;  // nothing to finish yet
            } else if (stopping_ && !c.closing && c.session.idle()) {
                c.session.shut_down();  // 421: a transaction in flight would finish first
                c.closing = true;
            }
            if (!c.send_armed) fill_send(c);
            if (!c.send_armed && !c.sending.empty()) {
                c.sent = 0;
                io_uring_sqe* s = sqe();
                io_uring_prep_send(s, c.fd, c.sending.data(), c.sending.size(), MSG_NOSIGNAL);
                io_uring_sqe_set_data64(s, tag(&c, kSendTag));
                c.send_armed = true;
                ++c.ops;
            } else if (!c.send_armed && c.closing) {
                close_conn(c);
            }
        }
        maybe_free(c);
    }
    dirty_.clear();
}

// Gathers what the connection has to send into `sending`: plaintext owed before TLS,
// then either the session's replies as they are or, with TLS, the records they became.
void Reactor::fill_send(Connection& c) noexcept {
    std::string& out = c.session.output();
    c.sending.swap(c.clear_out);  // usually empty; `sending` is empty here
    c.clear_out.clear();
    if (!c.tls) {
        if (c.sending.empty()) c.sending.swap(out);
        else c.sending += out;
        out.clear();
        return;
    }
    if (c.tls->established()) {
        if (!out.empty() && !c.tls->write(out)) c.closing = true;
        out.clear();
        if (c.closing) c.tls->close_notify();
    } else {
        out.clear();  // nothing may leave in plaintext once TLS has begun
    }
    c.tls->take_output(c.sending);
}

void Reactor::on_send(Connection& c, int res) noexcept {
    c.send_armed = false;
    --c.ops;
    if (c.dead) return;
    if (res < 0) {
        close_conn(c);
        return;
    }
    c.sent += static_cast<std::size_t>(res);
    if (c.sent < c.sending.size()) {  // short send: the rest goes next
        io_uring_sqe* s = sqe();
        io_uring_prep_send(s, c.fd, c.sending.data() + c.sent, c.sending.size() - c.sent, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(s, tag(&c, kSendTag));
        c.send_armed = true;
        ++c.ops;
        return;
    }
    c.sending.clear();
    if (!c.session.output().empty() || c.closing || !c.clear_out.empty() || (c.tls && c.tls->has_output()))
        mark_dirty(c);
}

void Reactor::close_conn(Connection& c) noexcept {
    if (c.dead) return;
    c.dead = true;
    if (c.recv_armed) {
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, tag(&c, kRecvTag), 0);
        io_uring_sqe_set_data64(s, kIgnore);
    }
    // The requests in flight keep the socket referenced; shutdown sends the FIN now. It
    // stays a syscall: io_uring runs IORING_OP_SHUTDOWN on a worker thread (a context
    // switch each). The close goes with the next submit, quiet unless it fails.
    ::shutdown(c.fd, SHUT_RDWR);
    io_uring_sqe* s = sqe();
    io_uring_prep_close(s, c.fd);
    s->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(s, kIgnore);
    c.fd = -1;
    if (c.prev) c.prev->next = c.next;
    else conns_ = c.next;
    if (c.next) c.next->prev = c.prev;
    c.prev = nullptr;
    c.next = dead_;
    if (dead_) dead_->prev = &c;
    dead_ = &c;
    --count_;
}

void Reactor::maybe_free(Connection& c) noexcept {
    if (!c.dead || c.ops != 0 || c.waiting || c.dirty) return;
    if (c.prev) c.prev->next = c.next;
    else dead_ = c.next;
    if (c.next) c.next->prev = c.prev;
    delete &c;
}

}  // namespace ringmail::engine
