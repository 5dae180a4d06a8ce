// client/smtp_client.cpp — sockets and OpenSSL for smtp::Client. Every wait is a poll()
// bounded by the timeout, so a silent or dripping server ends in ErrorKind::Timeout; the
// reply limits of proto::ReplyReader bound how much a chatty one can send us.
#include "client/smtp_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringmail::smtp {
namespace {

std::string ssl_errors() {
    std::string out;
    for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// OpenSSL writes to the socket with write(), which raises SIGPIPE when the server has
// gone. A library must not change the process's signal disposition, so the signal is
// blocked in this thread for the write and a SIGPIPE it caused is taken back out.
class SigpipeGuard {
public:
    SigpipeGuard() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        blocked_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0;
    }
    ~SigpipeGuard() {
        if (!blocked_) return;
        if (!was_pending_) {
            const timespec zero{0, 0};
            while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

private:
    sigset_t pipe_{}, old_{};
    bool was_pending_ = false, blocked_ = false;
};

}  // namespace

Client::Client() = default;
Client::~Client() { drop(); }

bool Client::is_open() const noexcept {
    return fd_ >= 0 && session_ && session_->state() == proto::ClientState::Ready;
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
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ctx_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    in_.clear();
}

bool Client::wait(short events) {
    pollfd p{fd_, events, 0};
    for (int tries = 0; tries < 1000; ++tries) {  // EINTR retries, bounded
        const int n = ::poll(&p, 1, timeout_ms_);
        if (n > 0) return true;
        if (n == 0) return set_error(ErrorKind::Timeout, "timed out after " + std::to_string(timeout_ms_ / 1000) + " s waiting for the server");
        if (errno != EINTR) return set_error(ErrorKind::Closed, std::string("poll: ") + std::strerror(errno));
    }
    return set_error(ErrorKind::Closed, "poll interrupted too often");
}

bool Client::write_all(std::string_view data) {
    while (!data.empty()) {
        if (ssl_ != nullptr) {
            ERR_clear_error();
            int n;
            {
                SigpipeGuard guard;
                n = SSL_write(ssl_, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20)));
            }
            if (n > 0) {
                data.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            const int e = SSL_get_error(ssl_, n);
            if (e == SSL_ERROR_WANT_WRITE && wait(POLLOUT)) continue;
            if (e == SSL_ERROR_WANT_READ && wait(POLLIN)) continue;
            if (kind_ == ErrorKind::Timeout) return false;
            return set_error(ErrorKind::Closed, "connection lost while writing (TLS) " + ssl_errors());
        }
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait(POLLOUT)) return false;
            continue;
        }
        return set_error(ErrorKind::Closed, std::string("connection lost while writing: ") + std::strerror(errno));
    }
    return true;
}

long Client::read_some(char* buf, std::size_t size) {
    for (int tries = 0; tries < 100000; ++tries) {
        if (ssl_ != nullptr) {
            ERR_clear_error();
            const int n = SSL_read(ssl_, buf, static_cast<int>(size));
            if (n > 0) return n;
            const int e = SSL_get_error(ssl_, n);
            if (e == SSL_ERROR_ZERO_RETURN) return 0;
            if (e == SSL_ERROR_WANT_READ) {
                if (!wait(POLLIN)) return -1;
                continue;
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                if (!wait(POLLOUT)) return -1;
                continue;
            }
            if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;  // closed without close_notify
            set_error(ErrorKind::Tls, "TLS read failed: " + ssl_errors());
            return -1;
        }
        const ssize_t n = ::recv(fd_, buf, size, 0);
        if (n >= 0) return n;
        if (errno == EAGAIN || errno == EINTR) {
            if (!wait(POLLIN)) return -1;
            continue;
        }
        if (errno == ECONNRESET) return 0;
        set_error(ErrorKind::Closed, std::string("read failed: ") + std::strerror(errno));
        return -1;
    }
    set_error(ErrorKind::Closed, "read made no progress");
    return -1;
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
    char buf[16384];
    // Bounded: each pass either writes, reads some bytes, or ends; reads are bounded by
    // the timeout and the reply limits.
    for (;;) {
        auto& out = session_->output();
        if (!out.empty()) {
            const bool ok = write_all(out);
            out.clear();
            if (!ok) return false;
        }
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
        const long n = read_some(buf, sizeof buf);
        if (n < 0) return false;
        if (n == 0) {
            session_->connection_closed();
            continue;
        }
        in_.append(buf, static_cast<std::size_t>(n));
        // feed() stops when the session leaves Busy; what is left waits for the next turn.
        const std::size_t used = session_->feed(in_);
        in_.erase(0, used);
    }
}

bool Client::handshake() {
    if (ctx_ == nullptr) {
        ctx_ = SSL_CTX_new(TLS_client_method());
        if (ctx_ == nullptr) return set_error(ErrorKind::Tls, "SSL_CTX_new: " + ssl_errors());
        SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
        if (options_.verify) {
            const bool loaded = options_.ca_file.empty()
                                    ? SSL_CTX_set_default_verify_paths(ctx_) == 1
                                    : SSL_CTX_load_verify_locations(ctx_, options_.ca_file.c_str(), nullptr) == 1;
            if (!loaded) return set_error(ErrorKind::Tls, "cannot load trusted certificates: " + ssl_errors());
            SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        }
    }
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return set_error(ErrorKind::Tls, "SSL_new: " + ssl_errors());
    if (!is_ip_literal(host_)) SSL_set_tlsext_host_name(ssl_, host_.c_str());  // SNI (RFC 6066 3)
    if (options_.verify) {
        // RFC 6125 / 7817: the certificate must name the host we were asked to reach.
        const int ok = is_ip_literal(host_) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host_.c_str())
                                            : SSL_set1_host(ssl_, host_.c_str());
        if (ok != 1) return set_error(ErrorKind::Tls, "cannot set the host name to verify");
    }
    for (int tries = 0; tries < 10000; ++tries) {
        ERR_clear_error();
        int n;
        {
            SigpipeGuard guard;
            n = SSL_connect(ssl_);
        }
        if (n == 1) return true;
        const int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_READ) {
            if (!wait(POLLIN)) return false;
            continue;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            if (!wait(POLLOUT)) return false;
            continue;
        }
        std::string why = ssl_errors();
        const long v = SSL_get_verify_result(ssl_);
        if (v != X509_V_OK) why = std::string("certificate verification failed: ") + X509_verify_cert_error_string(v);
        if (why.empty()) why = "connection closed during the handshake";
        return set_error(ErrorKind::Tls, "TLS handshake with " + host_ + " failed: " + why);
    }
    return set_error(ErrorKind::Tls, "TLS handshake made no progress");
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

    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    addrinfo* list = nullptr;
    const int gai = ::getaddrinfo(host_.c_str(), std::to_string(port).c_str(), &hints, &list);
    if (gai != 0) return set_error(ErrorKind::Connect, host_ + ": " + ::gai_strerror(gai));
    std::string why = "no address";
    for (addrinfo* a = list; a != nullptr && fd_ < 0; a = a->ai_next) {
        fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd_ < 0) continue;
        if (::connect(fd_, a->ai_addr, a->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            pollfd p{fd_, POLLOUT, 0};
            int err = 0;
            socklen_t len = sizeof err;
            const int n = ::poll(&p, 1, timeout_ms_);
            if (n > 0 && ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) break;
            why = n == 0 ? "timed out" : std::strerror(err != 0 ? err : errno);
        } else {
            why = std::strerror(errno);
        }
        ::close(fd_);
        fd_ = -1;
    }
    ::freeaddrinfo(list);
    if (fd_ < 0) return set_error(ErrorKind::Connect, "cannot connect to " + host_ + ":" + std::to_string(port) + ": " + why);

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
        if (ssl_ != nullptr) {
            SigpipeGuard guard;
            SSL_shutdown(ssl_);
        }
    }
    drop();
}

}  // namespace ringmail::smtp
