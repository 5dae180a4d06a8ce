// smtpd/reactor.cpp — the completion handling. Per turn of the ring: feed sessions,
// take handler answers from the inbox, recycle receive buffers, then one send per
// connection with output (replies to a pipelined group leave together, RFC 2920 3). With
// TLS, received bytes go through the connection's TlsStream first and replies are
// encrypted in flush().
#include "smtpd/reactor.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "smtpd/mail_builder.hpp"

namespace ringmail::smtpd {
namespace {

constexpr unsigned kBufCount = 256;       // per reactor, shared by all its connections
constexpr unsigned kBufSize = 32 * 1024;  // idle connections hold none of these
constexpr unsigned kBufGroup = 0;
// While a handler decides, input waits in `pending`; past this we stop reading.
constexpr std::size_t kMaxPending = 256 * 1024;
// Answers waiting for one reactor; a full inbox makes handler threads wait, not drop.
constexpr std::size_t kInboxSize = 1u << 16;

// Payload of our SQEs: the operation in bits 54-55 above a packed SlotId (54 bits). An
// accept names no connection: its slot field says which listener.
enum : std::uint64_t { kRecv = 0, kSend = 1, kAccept = 2 };
constexpr unsigned kOpShift = 54;
std::uint64_t payload(std::uint64_t op, io::SlotId id) noexcept { return op << kOpShift | id.pack(); }

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

Reactor::Reactor(Shared& shared, unsigned index, int listen_fd, int tls_listen_fd)
    : shared_(shared), index_(index), listen_fd_(listen_fd), tls_listen_fd_(tls_listen_fd), ring_(4096),
      id_(ring_.add(*this)), inbox_(ring_, kInboxSize), tick_(ring_, 1000, [this] { on_tick(); }) {
    buffers_.emplace(ring_.raw(), kBufCount, kBufSize, kBufGroup);
}

Reactor::~Reactor() {
    // run() returns once no connection is live, before the completions of the last
    // closes arrive; connections still here were abandoned at the end of the shutdown
    // grace time. The ring exits after this body (a member), and the buffers after it.
    conns_.for_each([](io::SlotId, Connection& c) {
        if (c.fd >= 0) ::close(c.fd);
    });
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (tls_listen_fd_ >= 0) ::close(tls_listen_fd_);
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

void Reactor::arm_accept(bool tls) noexcept {
    io_uring_sqe* s = ring_.prep(id_, payload(kAccept, {tls ? 1u : 0u, 0}));
    io_uring_prep_multishot_accept(s, tls ? tls_listen_fd_ : listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    (tls ? tls_accept_armed_ : accept_armed_) = true;
}

void Reactor::arm_recv(Connection& c) noexcept {
    io_uring_sqe* s = ring_.prep(id_, payload(kRecv, c.id));
    io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = kBufGroup;
    c.recv_armed = true;
    c.recv_paused = false;
    ++c.ops;
}

void Reactor::run() {
    try {
        ring_.start();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ringmail: %s\n", e.what());
        return;
    }
    take_tls_context();
    arm_accept(false);
    if (tls_listen_fd_ >= 0) arm_accept(true);
    inbox_.arm();
    tick_.arm();
    for (;;) {
        static constexpr __kernel_timespec kWait{60, 0};  // the ticker ends a wait every second anyway
        const int rc = ring_.turn(&kWait);
        if (rc < 0) {
            std::fprintf(stderr, "ringmail: io_uring_enter: %s\n", std::strerror(-rc));
            return;
        }
        now_ = ring_.now_ms();
        // Every turn, whatever woke it: an answer whose eventfd write is still on its way
        // is taken now, and none waits for a later wake-up.
        take_tls_context();
        inbox_.drain([this](JobDone&& r) { on_answer(std::move(r)); });
        if (!stopping_ && shared_.stopping.load(std::memory_order_acquire)) begin_stop();
        buffers_->publish();
        flush();
        if (stopping_ && (live_ == 0 || now_ >= deadline_)) {
            ring_.submit();  // the last closes are queued SQEs, not yet done
            return;
        }
    }
}

void Reactor::on_completion(const io_uring_cqe& cqe, std::uint64_t p) noexcept {
    const std::uint64_t op = p >> kOpShift;
    const io::SlotId id = io::SlotId::unpack(p);
    if (op == kAccept) {
        on_accept(cqe.res, cqe.flags, id.slot == 1);
        return;
    }
    Connection* c = conns_.find(id);
    if (!c) {
        // A late completion for a connection freed since: dropped. A receive buffer it
        // carries still goes back to the ring.
        if (op == kRecv && cqe.res > 0 && (cqe.flags & IORING_CQE_F_BUFFER))
            buffers_->recycle(io::BufferRing::id(cqe.flags));
        return;
    }
    if (op == kRecv) on_recv(*c, cqe.res, cqe.flags);
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
    if (stopping_ || live_ >= shared_.config.max_connections || (tls && !ctx_)) {
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
    auto [id, c] = conns_.emplace(shared_, f);
    c->id = id;
    c->fd = fd;
    c->ip = std::move(peer.ip);
    ++live_;
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
        const unsigned bid = io::BufferRing::id(flags);
        const char* p = buffers_->data(bid);
        if (c.reading()) {
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
        on_peer_done(c);
        return;
    }
    if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
        close_conn(c);  // reset or error: nobody is left to read replies
        return;
    }
    if (!c.recv_armed && c.reading() && !c.recv_paused) arm_recv(c);
}

// The client closed its side (it may have pipelined QUIT and shut down writing): answer
// what it sent, including a verdict still on its way, then close.
void Reactor::on_peer_done(Connection& c) noexcept {
    if (c.life != Life::Open) return;
    c.life = c.waiting ? Life::PeerDone : Life::Closing;
    mark_dirty(c);
}

// Ciphertext in: handshake, then decrypted bytes to the session as on a plain connection.
void Reactor::on_tls_data(Connection& c, const char* p, std::size_t n) noexcept {
    plain_.clear();
    const io::TlsStream::Status st = c.tls->receive({p, n}, plain_);
    if (c.tls->has_output()) mark_dirty(c);
    if (st == io::TlsStream::Status::Failed) {
        // A failed handshake, plaintext on the TLS port, a bad record: send the alert
        // OpenSSL queued and close; nothing else of this connection is read.
        c.handshaking = false;
        c.life = Life::Closing;
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
    if (st == io::TlsStream::Status::Closed) on_peer_done(c);  // close_notify: as a FIN
}

// After STARTTLS's 220 (which leaves in plaintext, first) or on accept on the TLS port.
void Reactor::start_tls(Connection& c) noexcept {
    c.clear_out += c.session.output();
    c.session.output().clear();
    c.tls = ctx_ ? io::TlsStream::create(ctx_) : nullptr;
    if (!c.tls) {
        c.life = Life::Closing;
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
            io_uring_prep_cancel64(ring_.prep_ignored(), io::Ring::user_data(id_, payload(kRecv, c.id)), 0);
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
    JobSink* sink = shared_.pool;
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
    job->home = {index_, c.id};
    if (!sink->submit(job)) {
        s.resolve({proto::Outcome::TempFail, "Server busy, try again later"});
        return true;
    }
    c.waiting = true;
    return false;
}

// A handler's answer. The connection may have closed (and its slot been reused) since
// the job left: then its name is dead and the answer is dropped.
void Reactor::on_answer(JobDone&& r) noexcept {
    Connection* found = conns_.find(r.conn);
    if (!found || !found->waiting) return;
    Connection& c = *found;
    c.waiting = false;
    if (c.life == Life::Closed) {
        maybe_free(c);
        return;
    }
    c.session.resolve({r.outcome, r.text});
    mark_dirty(c);
    drive_pending(c);
    if (c.life == Life::PeerDone && !c.waiting) c.life = Life::Closing;
    if (c.recv_paused && !c.waiting && c.reading() && !c.recv_armed) arm_recv(c);
}

void Reactor::on_tick() noexcept {
    conns_.for_each([this](io::SlotId, Connection& c) {
        if (c.life == Life::Closed) return;
        if (c.handshaking) {
            // A client stalling mid-handshake holds only its SSL; it cannot be answered
            // in plaintext any more, so it is simply closed.
            if (now_ >= c.handshake_deadline) {
                close_conn(c);
                maybe_free(c);
            }
        } else if (c.life != Life::Closing && c.session.expire(now_)) {  // RFC 5321 4.5.3.2
            c.life = Life::Closing;
            mark_dirty(c);
        }
    });
    if (stopping_ && now_ >= deadline_) {
        conns_.for_each([this](io::SlotId, Connection& c) {
            close_conn(c);
            maybe_free(c);
        });
    }
}

void Reactor::begin_stop() noexcept {
    stopping_ = true;
    deadline_ = now_ + std::uint64_t(shared_.config.shutdown_grace) * 1000;
    for (auto [armed, tls] : {std::pair{accept_armed_, 0u}, std::pair{tls_accept_armed_, 1u}}) {
        if (armed)
            io_uring_prep_cancel64(ring_.prep_ignored(), io::Ring::user_data(id_, payload(kAccept, {tls, 0})), 0);
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
        if (c.life != Life::Closed) {
            if (stopping_ && c.life != Life::Closing && c.handshaking) {
                c.life = Life::Closing;  // nothing to finish yet
            } else if (stopping_ && c.life != Life::Closing && c.session.idle()) {
                c.session.shut_down();  // 421: a transaction in flight would finish first
                c.life = Life::Closing;
            }
            if (!c.send_armed) fill_send(c);
            if (!c.send_armed && !c.sending.empty()) {
                c.sent = 0;
                send_rest(c);
            } else if (!c.send_armed && c.life == Life::Closing) {
                close_conn(c);
            }
        }
        maybe_free(c);
    }
    dirty_.clear();
}

void Reactor::send_rest(Connection& c) noexcept {
    io_uring_sqe* s = ring_.prep(id_, payload(kSend, c.id));
    io_uring_prep_send(s, c.fd, c.sending.data() + c.sent, c.sending.size() - c.sent, MSG_NOSIGNAL);
    c.send_armed = true;
    ++c.ops;
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
        if (!out.empty() && !c.tls->write(out)) c.life = Life::Closing;
        out.clear();
        if (c.life == Life::Closing) c.tls->close_notify();
    } else {
        out.clear();  // nothing may leave in plaintext once TLS has begun
    }
    c.tls->take_output(c.sending);
}

void Reactor::on_send(Connection& c, int res) noexcept {
    c.send_armed = false;
    --c.ops;
    if (c.life == Life::Closed) return;
    if (res < 0) {
        close_conn(c);
        return;
    }
    c.sent += static_cast<std::size_t>(res);
    if (c.sent < c.sending.size()) {  // short send: the rest goes next
        send_rest(c);
        return;
    }
    c.sending.clear();
    if (!c.session.output().empty() || c.life == Life::Closing || !c.clear_out.empty() ||
        (c.tls && c.tls->has_output()))
        mark_dirty(c);
}

void Reactor::close_conn(Connection& c) noexcept {
    if (c.life == Life::Closed) return;
    c.life = Life::Closed;
    if (c.recv_armed) io_uring_prep_cancel64(ring_.prep_ignored(), io::Ring::user_data(id_, payload(kRecv, c.id)), 0);
    // The requests in flight keep the socket referenced; shutdown sends the FIN now. It
    // stays a syscall: io_uring runs IORING_OP_SHUTDOWN on a worker thread (a context
    // switch each). The close goes with the next submit, quiet unless it fails.
    ::shutdown(c.fd, SHUT_RDWR);
    io_uring_sqe* s = ring_.prep_ignored();
    io_uring_prep_close(s, c.fd);
    s->flags |= IOSQE_CQE_SKIP_SUCCESS;
    c.fd = -1;
    --live_;
}

// A closed connection is freed once no request names it and it is off the flush list.
// A job still out does not keep it: its answer will find the name dead.
void Reactor::maybe_free(Connection& c) noexcept {
    if (c.life != Life::Closed || c.ops != 0 || c.dirty) return;
    conns_.erase(c.id);
}

}  // namespace ringmail::smtpd
