// bench/loadgen/worker_session.cpp — the client side of each session: reply lines
// (RFC 5321 4.2: "NNN-" continues, "NNN " ends), EHLO keywords, and the transaction's
// plan of groups (RFC 2920 pipelining, RFC 3030 BDAT). A reply >= 400 fails the
// transaction, not the run: the session sends RSET and carries on.
#include <openssl/ssl.h>

#include <cstring>

#include "worker.hpp"

namespace ringmail::bench {
namespace {

// RFC 5321 4.5.3.1.5 caps reply lines at 512 octets; allow more, but stay bounded.
constexpr std::size_t kMaxLine = 4096;

constexpr char kEhlo[] = "EHLO ringmail-bench.example\r\n";
constexpr char kQuit[] = "QUIT\r\n";
constexpr char kStartTls[] = "STARTTLS\r\n";
constexpr char kRset[] = "RSET\r\n";
constexpr char kEndRset[] = ".\r\nRSET\r\n";  // after a 354 we owe the server an end of data

template <std::size_t N>
constexpr std::size_t len(const char (&)[N]) noexcept { return N - 1; }

bool keyword(const char* text, std::size_t n, const char* word) noexcept {
    const std::size_t w = std::strlen(word);
    if (n < w) return false;
    for (std::size_t i = 0; i < w; ++i) {
        char ch = text[i];
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
        if (ch != word[i]) return false;
    }
    return n == w || text[w] == ' ';
}

// One client context per run: TLS 1.2+, no certificate checks (this measures the server's
// cost, not a trust decision), no session cache, so every STARTTLS is a full handshake.
SSL_CTX* client_tls_context() noexcept {
    static SSL_CTX* ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        if (!c) return c;
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        return c;
    }();
    return ctx;
}

}  // namespace

void Worker::receive(Connection& c, const char* p, std::size_t n) noexcept {
    if (!c.tls) {
        feed(c, p, n);
        return;
    }
    std::string plain;
    const io::TlsStream::Status s = c.tls->receive({p, n}, plain);
    flush_tls(c);
    if (s == io::TlsStream::Status::Failed || s == io::TlsStream::Status::Closed) {
        fail(c, kErrProtocol);
        return;
    }
    if (c.state == ConnState::TlsHandshake && c.tls->established()) {
        ++stats_.tls_handshakes;
        c.state = ConnState::Ehlo;  // RFC 3207 4.2: forget what the server said before TLS
        c.pipelining = c.chunking = c.starttls = false;
        send(c, kEhlo, len(kEhlo));
    }
    if (!plain.empty()) feed(c, plain.data(), plain.size());
}

void Worker::flush_tls(Connection& c) noexcept {
    c.tls->take_output(c.cipher_out);
    if (c.sending || c.cipher_out.empty()) return;
    c.cipher_inflight.swap(c.cipher_out);
    c.cipher_out.clear();
    c.out = c.cipher_inflight.data();
    c.out_left = c.cipher_inflight.size();
    issue_send(c);
}

void Worker::feed(Connection& c, const char* p, std::size_t n) noexcept {
    while (n > 0) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
        if (!nl) {
            if (c.partial.size() + n > kMaxLine) {
                fail(c, kErrProtocol);
                return;
            }
            c.partial.append(p, n);
            return;
        }
        const std::size_t used = static_cast<std::size_t>(nl - p) + 1;
        bool go_on;
        if (c.partial.empty()) {
            go_on = line(c, p, used);  // the common case: the line is whole in this buffer
        } else {
            if (c.partial.size() + used > kMaxLine) {
                fail(c, kErrProtocol);
                return;
            }
            c.partial.append(p, used);
            std::string whole;
            whole.swap(c.partial);
            go_on = line(c, whole.data(), whole.size());
        }
        if (!go_on) return;  // the session ended (or restarted): the rest is not its
        p += used;
        n -= used;
    }
}

bool Worker::line(Connection& c, const char* p, std::size_t n) noexcept {
    auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
    if (n < 5 || !digit(p[0]) || !digit(p[1]) || !digit(p[2]) || (p[3] != ' ' && p[3] != '-' && p[3] != '\r')) {
        fail(c, kErrProtocol);
        return false;
    }
    const int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    if (c.state == ConnState::Ehlo && p[3] != '\r') {  // RFC 5321 4.1.1.1: one keyword a line
        std::size_t tn = n - 4;
        while (tn > 0 && (p[4 + tn - 1] == '\n' || p[4 + tn - 1] == '\r')) --tn;
        if (keyword(p + 4, tn, "PIPELINING")) c.pipelining = true;
        if (keyword(p + 4, tn, "CHUNKING")) c.chunking = true;
        if (keyword(p + 4, tn, "STARTTLS")) c.starttls = true;
    }
    if (p[3] == '-') return true;
    on_reply(c, code);
    return c.state != ConnState::Closing && c.state != ConnState::Done && c.state != ConnState::Connecting;
}

void Worker::on_reply(Connection& c, int code) noexcept {
    switch (c.state) {
    case ConnState::Greeting:
        if (code != 220) {
            fail(c, code);
            return;
        }
        c.state = ConnState::Ehlo;
        send(c, kEhlo, len(kEhlo));
        return;
    case ConnState::Ehlo:
        if (code != 250) {
            fail(c, code);
            return;
        }
        if (opt_.starttls && !c.tls) {  // RFC 3207: upgrade first, then EHLO again
            if (!c.starttls) {
                fail(c, kErrProtocol);
                return;
            }
            c.state = ConnState::StartTls;
            send(c, kStartTls, len(kStartTls));
            return;
        }
        c.fails = 0;
        c.tx_on_conn = 0;
        ++stats_.sessions;
        stats_.with_pipelining += c.pipelining;
        stats_.with_chunking += c.chunking;
        // RFC 2920 / RFC 3030: use an extension only where this server offered it.
        c.use_pipelining = opt_.pipelining && c.pipelining;
        c.use_bdat = opt_.bdat && c.chunking;
        if (!c.handshaken_once) {
            c.handshaken_once = true;
            ++handshaken_;
        }
        became_idle(c);
        return;
    case ConnState::StartTls:
        if (code != 220) {
            fail(c, code);
            return;
        }
        c.tls = io::TlsStream::create(client_tls_context(), io::TlsStream::Side::Client);
        c.state = ConnState::TlsHandshake;
        if (std::string hello; !c.tls || c.tls->receive({}, hello) == io::TlsStream::Status::Failed) {
            fail(c, kErrProtocol);
            return;
        }
        flush_tls(c);
        return;
    case ConnState::Tx: tx_reply(c, code); return;
    case ConnState::Recover:
        if (--c.recover_left == 0) became_idle(c);
        return;
    case ConnState::Quit: begin_close(c); return;
    default:
        // Unasked, e.g. RFC 5321 3.8's 421 before the server closes an idle session;
        // the close that follows is counted when it comes.
        if (code >= 400) ++stats_.errors[code];
        return;
    }
}

void Worker::tx_reply(Connection& c, int code) noexcept {
    const unsigned r = c.reply_index++;
    const unsigned rcpts = opt_.recipients;
    bool ok;
    if (r == 0) ok = code == 250;                               // MAIL
    else if (r <= rcpts) ok = code == 250 || code == 251;       // RCPT
    else if (r == rcpts + 1) ok = code == (c.use_bdat ? 250 : 354);  // BDAT LAST, or DATA
    else ok = code == 250;                                      // end of data
    if (!ok && c.tx_error == 0) c.tx_error = code;
    c.last_code = code;
    if (++c.reply_in_group < (*c.plan)[c.group].replies) return;
    if (c.tx_error != 0) {  // the group is answered; end the transaction cleanly
        finish_tx(c, c.tx_error);
        c.state = ConnState::Recover;
        if (code == 354) {
            c.recover_left = 2;
            send(c, kEndRset, len(kEndRset));
        } else {
            c.recover_left = 1;
            send(c, kRset, len(kRset));
        }
        return;
    }
    if (++c.group < c.plan->size()) {
        c.reply_in_group = 0;
        const Group& g = (*c.plan)[c.group];
        send(c, g.data, g.len);
        return;
    }
    finish_tx(c, 0);
    became_idle(c);
}

void Worker::finish_tx(Connection& c, int error) noexcept {
    ++stats_.sent;
    if (error == 0) {
        ++stats_.ok;
        stats_.bytes_ok += c.payload->bytes();
    } else {
        ++stats_.failed;
        ++stats_.errors[error];
    }
    stats_.latency.record(now_ > c.tx_start_ns ? now_ - c.tx_start_ns : 0);
    stats_.last_done_ns = now_;
    ++c.tx_on_conn;
    c.state = ConnState::Idle;
}

void Worker::start_tx(Connection& c, std::uint64_t intended_ns) noexcept {
    c.payload = &payloads_.pick(next_random());
    c.plan = &c.payload->plan(c.use_pipelining, c.use_bdat);
    c.group = c.reply_in_group = c.reply_index = 0;
    c.tx_error = c.last_code = 0;
    c.tx_start_ns = intended_ns;
    c.state = ConnState::Tx;
    const Group& g = c.plan->front();
    send(c, g.data, g.len);
}

void Worker::became_idle(Connection& c) noexcept {
    c.state = ConnState::Idle;
    const unsigned per_conn = opt_.transactions_per_connection;
    if (!has_work() || (per_conn != 0 && c.tx_on_conn >= per_conn)) {
        c.state = ConnState::Quit;  // finish_close() reconnects while there is work
        send(c, kQuit, len(kQuit));
        return;
    }
    if (opt_.rate <= 0) {  // closed loop: the next message right away
        if (!unbounded_quota_) --quota_;
        start_tx(c, now_);
        return;
    }
    if (queued() > 0) {  // open loop: the oldest due message; its clock is already running
        start_tx(c, schedule_ns(sched_taken_++));
        return;
    }
    if (!c.idle_listed) {
        c.idle_listed = true;
        idle_.push_back(&c);
    }
}

void Worker::fail(Connection& c, int error) noexcept {
    switch (c.state) {
    case ConnState::Tx:  // the transaction in flight fails with the cause
        finish_tx(c, error);
        ++stats_.connection_errors;
        break;
    case ConnState::Connecting:
    case ConnState::Greeting:
    case ConnState::Ehlo:
        ++c.fails;
        ++stats_.connection_errors;
        ++stats_.errors[error];
        break;
    case ConnState::Idle:
    case ConnState::Recover:
        ++stats_.connection_errors;
        ++stats_.errors[error];
        break;
    default: break;  // Quit: the server closing after 221 (or instead of it) is the end
    }
    begin_close(c);
}

}  // namespace ringmail::bench
