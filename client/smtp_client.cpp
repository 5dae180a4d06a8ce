// client/smtp_client.cpp — smtp::Client's transport: an io::Stream on a small io::Ring of
// the client's own, turned only while the caller waits. Every wait is one turn bounded by
// the timeout, so a silent or dripping server ends in ErrorKind::Timeout; the reply limits
// of proto::ReplyReader bound how much a chatty one can send us. Sends use MSG_NOSIGNAL:
// a server that has gone raises no SIGPIPE in the caller's process.
#include "client/smtp_client.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "io/buffer_ring.hpp"
#include "io/ring.hpp"
#include "io/stream.hpp"
#include "io/tls_context.hpp"

namespace ringmail::smtp {

struct Client::Transport final : io::Handler {
    Transport() : ring(64) {
        ring.start();  // the calling thread becomes the ring's one issuer
        id = ring.add(*this);
        buffers.emplace(ring.raw(), 4, 16 * 1024, 0);  // replies are small
    }
    ~Transport() {
        // Requests still in flight name the stream: close it and let them finish before
        // the ring and the buffers go (bounded: a close completes at once).
        if (stream) {
            stream->close();
            for (int i = 0; i < 100 && stream->ops() > 0; ++i) {
                static constexpr __kernel_timespec kShort{0, 10'000'000};
                if (ring.turn(&kShort) < 0) break;
            }
        }
        stream.reset();
    }
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override {
        if (!stream) return;
        auto emit = [this](io::StreamEvent e, std::string_view bytes) noexcept {
            switch (e) {
            case io::StreamEvent::Data: in.append(bytes); break;
            case io::StreamEvent::Connected: connected = true; break;
            case io::StreamEvent::TlsReady: tls_ready = true; break;
            case io::StreamEvent::TlsFailed: tls_failed = true; break;
            case io::StreamEvent::PeerClosed: peer_closed = true; break;
            case io::StreamEvent::Writable: stream->send(pending); break;
            case io::StreamEvent::Failed: failed = true; break;
            }
        };
        stream->on_completion(cqe, payload, emit);
        buffers->publish();
    }
    void new_stream() {
        stream.emplace(ring, *buffers, id, 1);
        connected = tls_ready = tls_failed = peer_closed = failed = false;
    }

    io::Ring ring;
    std::uint8_t id = 0;
    std::optional<io::BufferRing> buffers;
    std::optional<io::Stream> stream;
    io::SslCtxPtr ctx;
    std::string in;       // bytes received, not yet fed to the session
    std::string pending;  // bytes the session wrote while a send was in flight
    bool connected = false, tls_ready = false, tls_failed = false, peer_closed = false, failed = false;
};

Client::Client() = default;
Client::~Client() { drop(); }

bool Client::is_open() const noexcept {
    return t_ && t_->stream && t_->stream->open() && session_ && session_->state() == proto::ClientState::Ready;
}

const proto::Extensions* Client::extensions() const noexcept {
    return session_ ? &session_->extensions() : nullptr;
}

bool Client::set_error(ErrorKind kind, std::string text) {
    kind_ = kind;
    error_ = std::move(text);
    return false;
}

void Client::drop() {
    t_.reset();
    in_.clear();
}

bool Client::wait() {
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ms_ / 1000;
    ts.tv_nsec = static_cast<long long>(timeout_ms_ % 1000) * 1000000;
    const int n = t_->ring.turn(&ts);
    if (n < 0) return set_error(ErrorKind::Closed, std::string("io_uring: ") + std::strerror(-n));
    if (n == 0)
        return set_error(ErrorKind::Timeout,
                         "timed out after " + std::to_string(timeout_ms_ / 1000) + " s waiting for the server");
    return true;
}

void Client::set_session_error() {
    using proto::ClientError;
    const ClientError e = session_->error();
    const auto& r = session_->last_reply();
    std::string text(proto::describe(e));
    if (r.code != 0 && e != ClientError::ConnectionClosed) text += ": " + r.to_string();
    ErrorKind k = ErrorKind::Protocol;
    if (e == ClientError::AuthFailed || e == ClientError::AuthNotOffered) k = ErrorKind::Auth;
    if (e == ClientError::StartTlsNotOffered || e == ClientError::StartTlsRefused) k = ErrorKind::Tls;
    if (e == ClientError::ConnectionClosed || e == ClientError::ServiceClosing) k = ErrorKind::Closed;
    set_error(k, std::move(text));
}

bool Client::drive() {
    using proto::ClientState;
    Transport& t = *t_;
    // Bounded: each pass either sends, takes received bytes, or waits one bounded turn;
    // what is received is bounded by the timeout and the reply limits.
    for (;;) {
        auto& out = session_->output();
        if (!out.empty()) {
            t.pending += out;
            out.clear();
        }
        if (!t.pending.empty() && !t.stream->send(t.pending))
            return set_error(ErrorKind::Tls, "TLS write failed");
        in_ += t.in;
        t.in.clear();
        const ClientState st = session_->state();
        if (st == ClientState::Ready && !in_.empty()) {
            // Every reply due has come; more bytes are the server speaking out of turn
            // (or an injection), and they must not answer our next command.
            in_.erase(0, session_->feed(in_));
            if (session_->state() == ClientState::Ready) {
                drop();
                return set_error(ErrorKind::Protocol, "server sent data when no reply was due");
            }
            continue;
        }
        if (st == ClientState::Ready || st == ClientState::Closed) return true;
        if (st == ClientState::Failed) {
            set_session_error();
            return false;
        }
        if (st == ClientState::NeedTls) {
            in_.clear();  // RFC 3207 4.2: nothing read before the handshake is a reply
            if (!handshake()) return false;
            session_->tls_started();
            continue;
        }
        if (!in_.empty()) {
            // feed() stops when the session leaves Busy; what is left waits for the next turn.
            const std::size_t used = session_->feed(in_);
            in_.erase(0, used);
            if (used > 0 || session_->state() != ClientState::Busy) continue;
        }
        // A reset is the server going away, as a FIN is: the session says what it cut short.
        if (t.failed && t.stream->error() != ECONNRESET && t.stream->error() != EPIPE)
            return set_error(ErrorKind::Closed, std::string("connection lost: ") + std::strerror(t.stream->error()));
        if (t.peer_closed || t.failed) {
            t.peer_closed = t.failed = false;
            session_->connection_closed();
            continue;
        }
        if (!wait()) return false;
    }
}

bool Client::handshake() {
    Transport& t = *t_;
    if (!t.ctx) {
        try {
            t.ctx = io::make_client_tls_context(options_.verify ? io::TlsPolicy::Verify : io::TlsPolicy::Opportunistic,
                                                options_.ca_file);
        } catch (const std::exception& e) {
            return set_error(ErrorKind::Tls, e.what());
        }
    }
    std::string none;
    const std::uint64_t deadline = t.ring.now_ms() + static_cast<std::uint64_t>(timeout_ms_);
    // SNI names the host (RFC 6066 3); with verification the certificate must name it too
    // (RFC 6125 / 7817).
    if (!t.stream->start_tls(t.ctx.get(), io::TlsStream::Side::Client, deadline, none, host_, options_.verify))
        return set_error(ErrorKind::Tls, "cannot start TLS (out of memory, or a bad host name)");
    t.stream->send(none);  // the ClientHello
    while (!t.tls_ready) {
        if (t.tls_failed || t.failed || t.peer_closed) {
            std::string why = t.stream->tls() ? t.stream->tls()->failure() : "";
            if (t.failed || t.peer_closed || why == "handshake failed") why = "connection closed during the handshake";
            return set_error(ErrorKind::Tls, "TLS handshake with " + host_ + " failed: " + why);
        }
        if (!wait()) return false;
    }
    return true;
}

bool Client::connect(const std::string& port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    addrinfo* list = nullptr;
    const int gai = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &list);
    if (gai != 0) return set_error(ErrorKind::Connect, host_ + ": " + ::gai_strerror(gai));
    std::string why = "no address";
    bool up = false;
    Transport& t = *t_;
    for (addrinfo* a = list; a != nullptr && !up; a = a->ai_next) {
        t.new_stream();
        if (!t.stream->connect(a->ai_addr, a->ai_addrlen, static_cast<std::uint64_t>(timeout_ms_))) {
            why = std::strerror(t.stream->error());
            continue;
        }
        while (!t.connected && !t.failed) {
            static constexpr __kernel_timespec kSecond{1, 0};  // the connect has its own deadline
            if (t.ring.turn(&kSecond) < 0) break;
        }
        up = t.connected;
        if (!up) {
            why = t.failed ? std::strerror(t.stream->error()) : "io_uring failed";
            if (t.stream->error() == ETIMEDOUT) why = "timed out";
            t.stream->close();
            while (t.stream->ops() > 0) {
                static constexpr __kernel_timespec kShort{0, 100'000'000};
                if (t.ring.turn(&kShort) <= 0) break;
            }
        }
    }
    ::freeaddrinfo(list);
    if (!up) return set_error(ErrorKind::Connect, "cannot connect to " + host_ + ":" + port + ": " + why);
    return true;
}

bool Client::open(const std::string& host, int port, Mode mode, int timeout_s, const std::string& user,
                  const std::string& password, const Options& options) {
    drop();
    session_.reset();
    kind_ = ErrorKind::None;
    error_.clear();
    host_ = host.empty() ? "localhost" : host;
    options_ = options;
    timeout_ms_ = timeout_s > 0 ? (timeout_s > 86400 ? 86400000 : timeout_s * 1000) : 60000;
    if (port <= 0 || port > 65535) return set_error(ErrorKind::Usage, "bad port " + std::to_string(port));
    try {
        t_ = std::make_unique<Transport>();
    } catch (const std::exception& e) {
        return set_error(ErrorKind::Connect, e.what());
    }
    if (!connect(std::to_string(port))) return false;
    if (mode == Mode::Tls && !handshake()) return false;
    proto::ClientOptions co;
    co.ehlo_name = options.ehlo_name;
    co.starttls = mode == Mode::StartTls;
    co.tls_active = mode == Mode::Tls;
    co.user = user;
    co.password = password;
    session_ = std::make_unique<proto::ClientSession>(std::move(co));
    return drive();
}

Reply Client::command(std::string_view text, int expect) {
    Reply r;
    if (!is_open()) {
        if (error_.empty()) set_error(ErrorKind::Usage, "not connected");
        return r;
    }
    if (session_->command(text) != proto::ClientError::None) {
        set_error(ErrorKind::Usage, "command holds CR, LF or NUL");
        return r;
    }
    drive();
    const auto& last = session_->last_reply();
    r.code = last.code;
    for (std::size_t i = 0; i < last.lines.size(); ++i) r.text += (i ? "\n" : "") + last.lines[i];
    r.expected = expect == 0 ? (r.code >= 200 && r.code < 400) : r.code == expect;
    return r;
}

SendResult Client::send(const std::string& from, const std::vector<std::string>& recipients, std::string_view mime) {
    SendResult res;
    for (const auto& r : recipients) res.recipients.push_back({r, false, {}});
    if (!is_open()) {
        res.kind = error_.empty() ? ErrorKind::Usage : kind_;
        res.error = error_.empty() ? "not connected" : error_;
        return res;
    }
    const auto e = session_->send_mail(from, recipients, mime);
    if (e != proto::ClientError::None) {
        res.kind = ErrorKind::Usage;
        res.error = recipients.empty() ? "no recipients" : std::string(proto::describe(e));
        return res;
    }
    const bool finished = drive();
    const proto::MailResult& m = session_->result();
    res.reply = m.data.code != 0 ? m.data.to_string() : "";
    for (std::size_t i = 0; i < res.recipients.size(); ++i) {
        auto& r = res.recipients[i];
        r.accepted = m.accepted(i);
        // The reply that decided: MAIL's refusal, RCPT's, or the end of data.
        if (m.mail.code != 0 && !m.mail.positive()) r.reply = m.mail.to_string();
        else if (i < m.rcpt.size() && m.rcpt[i].code != 0 && !m.rcpt[i].positive()) r.reply = m.rcpt[i].to_string();
        else if (m.data.code != 0) r.reply = m.data.to_string();
        else if (i < m.rcpt.size() && m.rcpt[i].code != 0) r.reply = m.rcpt[i].to_string();
        if (r.reply.empty()) r.reply = finished ? "no reply" : error_;
    }
    if (!finished) {
        res.kind = kind_;
        res.error = error_;
        return res;
    }
    std::size_t refused = 0;
    for (const auto& r : res.recipients) refused += r.accepted ? 0 : 1;
    if (refused != 0) {
        res.kind = ErrorKind::Refused;
        res.error = std::to_string(refused) + " of " + std::to_string(res.recipients.size()) + " recipients not accepted";
    }
    return res;
}

void Client::close() {
    if (is_open()) {
        session_->quit();
        const int saved = timeout_ms_;
        timeout_ms_ = std::min(timeout_ms_, 5000);  // QUIT's reply is a courtesy
        const ErrorKind k = kind_;
        const std::string e = error_;
        drive();
        kind_ = k;
        error_ = e;
        timeout_ms_ = saved;
        if (t_ && t_->stream) {
            std::string none;
            t_->stream->send(none, true);  // TLS close_notify, when TLS is up
        }
    }
    drop();
}

}  // namespace ringmail::smtp
