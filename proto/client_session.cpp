// proto/client_session.cpp — the client state machine: greeting, EHLO (HELO on 5xx),
// STARTTLS, AUTH, then MAIL/RCPT/DATA (or BDAT) per message with RSET between, and QUIT.
// RFC 5321 3-4, 3207, 4954, 2920, 3030. Invariant: every command we write ends in CRLF
// and holds no other CR or LF, and so does the body; a reply is matched to the oldest
// command still waiting.
#include "proto/client_session.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

#include "proto/sasl.hpp"

namespace ringmail::proto {
namespace {

bool has_control(std::string_view s) noexcept {
    return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}
bool bad_address(std::string_view s) noexcept {
    return has_control(s) || s.find_first_of("<>") != std::string_view::npos;
}
// Bodies are scanned sixteen octets at a time with SSE2 (every x86-64 has it), else eight
// (they are up to megabytes, and each message is scanned on the relay's one thread);
// little-endian order maps a mask bit to its octet.
constexpr bool kWordScan = std::endian::native == std::endian::little;
constexpr std::uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL, kHigh = 0x8080808080808080ULL;
constexpr std::uint64_t kCRs = 0x0d0d0d0d0d0d0d0dULL, kLFs = 0x0a0a0a0a0a0a0a0aULL;

std::uint64_t load8(const char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
}
// The high bit of each octet of `w` that equals the octet repeated in `octets` (exact: no
// carry crosses octets).
std::uint64_t equal_octets(std::uint64_t w, std::uint64_t octets) noexcept {
    const std::uint64_t x = w ^ octets;
    return ~(((x & kLow7) + kLow7) | x) & kHigh;
}

bool non_ascii(std::string_view s) noexcept {
    std::size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= s.size(); i += 16)
        if (_mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i))) != 0) return true;
#endif
    for (; i + 8 <= s.size(); i += 8)
        if (load8(s.data() + i) & kHigh) return true;
    for (; i < s.size(); ++i)
        if (static_cast<unsigned char>(s[i]) >= 0x80) return true;
    return false;
}

// True when `body` goes after DATA as it is: it is empty or ends in CRLF, has no lone CR or
// LF, and no line starts with a dot.
bool data_ready(std::string_view body) noexcept {
    const char* b = body.data();
    const std::size_t n = body.size();
    if (n == 0) return true;
    if (n < 2 || b[n - 2] != '\r' || b[n - 1] != '\n' || b[0] == '.') return false;
    // b[k] is CR or LF: a CR needs an LF after it, an LF a CR before it and no dot after.
    const auto fits = [b, n](std::size_t k) noexcept {
        if (b[k] == '\r') return k + 1 < n && b[k + 1] == '\n';
        return k > 0 && b[k - 1] == '\r' && (k + 1 == n || b[k + 1] != '.');
    };
    std::size_t i = 0;
#if defined(__SSE2__)
    // Sixteen octets a compare: most blocks of a body hold no line end at all.
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
        for (unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf))));
             m != 0; m &= m - 1)
            if (!fits(i + static_cast<std::size_t>(std::countr_zero(m)))) return false;
    }
#endif
    if constexpr (kWordScan) {
        for (; i + 8 <= n; i += 8) {
            const std::uint64_t w = load8(b + i);
            for (std::uint64_t m = equal_octets(w, kCRs) | equal_octets(w, kLFs); m != 0; m &= m - 1)
                if (!fits(i + static_cast<std::size_t>(std::countr_zero(m)) / 8)) return false;
        }
    }
    for (; i < n; ++i)
        if ((b[i] == '\r' || b[i] == '\n') && !fits(i)) return false;
    return true;
}
bool is_2xx(const ServerReply& r) noexcept { return r.code >= 200 && r.code < 300; }

// Calls line(text) for each line of `body` without its line end (CRLF, lone CR or lone
// LF), the last one included when no line end follows it. memchr finds the LF of each
// line and any CR before it, so a body costs two vectorised scans, not a test per octet;
// the LF is looked up once per line, so a run of lone CRs stays linear.
template <class F>
void each_line(std::string_view body, F&& line) {
    const char* p = body.data();
    const char* const end = p + body.size();
    while (p < end) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        const char* const stop = nl ? nl : end;
        bool crlf = false;
        for (;;) {
            const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(stop - p)));
            if (!cr) break;
            line(std::string_view(p, static_cast<std::size_t>(cr - p)));
            if (cr + 1 == nl) {
                crlf = true;
                break;
            }
            p = cr + 1;  // a lone CR
        }
        if (!nl) {
            if (p < end) line(std::string_view(p, static_cast<std::size_t>(end - p)));
            return;
        }
        if (!crlf) line(std::string_view(p, static_cast<std::size_t>(nl - p)));
        p = nl + 1;
    }
}

// `body` normalised, `size` being crlf_body_size(body).
void append_crlf(std::string& out, std::string_view body, std::size_t size) {
    // Normalising only ever adds bytes, so the same size means nothing to change.
    if (size == body.size()) {
        out.append(body);
        return;
    }
    each_line(body, [&out](std::string_view text) { out.append(text).append("\r\n"); });
}

// "BDAT <n> LAST" and the chunk: the whole message in one chunk (RFC 3030 2).
void append_bdat(std::string& out, std::string_view body, std::size_t size) {
    out.reserve(out.size() + size + 32);
    out.append("BDAT ").append(std::to_string(size)).append(" LAST\r\n");
    append_crlf(out, body, size);
}

}  // namespace

std::size_t crlf_body_size(std::string_view body) noexcept {
    std::size_t n = 0;
    each_line(body, [&n](std::string_view text) noexcept { n += text.size() + 2; });
    return n;
}

void append_crlf_body(std::string& out, std::string_view body) {
    append_crlf(out, body, crlf_body_size(body));
}

std::string stuff_body(std::string_view body) {
    std::string out;
    append_stuffed_body(out, body);
    return out;
}

void append_stuffed_body(std::string& out, std::string_view body) {
    // Most bodies (all that the queue stores) are CRLF already: with no line starting with
    // a dot, the body goes as it is.
    if (data_ready(body)) {
        out.reserve(out.size() + body.size() + 3);
        out.append(body).append(".\r\n");
        return;
    }
    const std::size_t size = crlf_body_size(body);
    out.reserve(out.size() + size + size / 64 + 8);
    each_line(body, [&out](std::string_view text) {
        if (!text.empty() && text.front() == '.') out += '.';  // RFC 5321 4.5.2 transparency
        out.append(text).append("\r\n");
    });
    out += ".\r\n";
}

ClientSession::ClientSession(ClientOptions options)
    : opt_(std::move(options)), reader_(opt_.limits), tls_(opt_.tls_active) {
    if (opt_.ehlo_name.empty() || has_control(opt_.ehlo_name) || opt_.ehlo_name.find(' ') != std::string::npos)
        opt_.ehlo_name = "localhost";
}

void ClientSession::put(std::string_view line) {
    out_.append(line).append("\r\n");
}

void ClientSession::fail(ClientError e) noexcept {
    error_ = e;
    state_ = ClientState::Failed;
    phase_ = Phase::Done;
}

std::size_t ClientSession::feed(std::span<const char> in) noexcept {
    std::size_t consumed = 0;
    // Bounded: each pass consumes at least one line or returns.
    while (consumed < in.size()) {
        if (phase_ == Phase::TlsHandshake) return in.size();  // RFC 3207 4.2: drop it
        if (phase_ == Phase::Done) return in.size();
        const auto r = reader_.feed(in.subspan(consumed));
        consumed += r.consumed;
        if (r.error != ReplyError::None) {
            last_ = reader_.take();
            fail(ClientError::BadReply);
            return in.size();
        }
        if (!r.complete) return consumed;
        ServerReply reply = reader_.take();
        try {
            on_reply(std::move(reply));
        } catch (...) {
            fail(ClientError::BadReply);  // out of memory while building commands
            return in.size();
        }
        // The caller acts (a message, the handshake) before reading on.
        if (state_ != ClientState::Busy) return phase_ == Phase::Done ? in.size() : consumed;
    }
    return consumed;
}

void ClientSession::on_reply(ServerReply&& r) {
    last_ = r;
    // RFC 5321 3.8: 421 may answer any command; the server closes after it.
    if (r.code == 421 && phase_ != Phase::Quit) {
        if (phase_ == Phase::Transaction) {
            // Keep what the message got so far; the caller reports per recipient.
            result_.data = r;
        }
        fail(ClientError::ServiceClosing);
        return;
    }
    switch (phase_) {
    case Phase::Greeting: on_greeting(r); break;
    case Phase::Ehlo: on_ehlo(r); break;
    case Phase::Helo: on_helo(r); break;
    case Phase::StartTls: on_starttls(r); break;
    case Phase::AuthPlain:
    case Phase::AuthLoginUser:
    case Phase::AuthLoginPass: on_auth(r); break;
    case Phase::Transaction: on_transaction(std::move(r)); break;
    case Phase::Command:
        phase_ = Phase::Ready;
        state_ = ClientState::Ready;
        break;
    case Phase::Quit:
        phase_ = Phase::Done;
        state_ = ClientState::Closed;
        break;
    case Phase::Ready: fail(ClientError::UnexpectedReply); break;
    case Phase::TlsHandshake:
    case Phase::Done: break;
    }
}

void ClientSession::send_ehlo() {
    phase_ = Phase::Ehlo;
    put("EHLO " + opt_.ehlo_name);
}

void ClientSession::on_greeting(const ServerReply& r) {
    if (r.code != 220) return fail(ClientError::Greeting);
    send_ehlo();
}

void ClientSession::on_ehlo(const ServerReply& r) {
    if (r.code == 250) {
        ext_ = parse_extensions(r);
        return after_hello();
    }
    // RFC 5321 3.2: a server that does not know EHLO answers 5xx; fall back to HELO.
    if (r.code >= 500) {
        phase_ = Phase::Helo;
        put("HELO " + opt_.ehlo_name);
        return;
    }
    fail(ClientError::Helo);
}

void ClientSession::on_helo(const ServerReply& r) {
    if (r.code != 250) return fail(ClientError::Helo);
    ext_ = Extensions{};
    after_hello();
}

void ClientSession::after_hello() {
    if ((opt_.starttls || (opt_.starttls_if_offered && ext_.starttls)) && !tls_) {
        if (!ext_.starttls) return fail(ClientError::StartTlsNotOffered);
        phase_ = Phase::StartTls;
        put("STARTTLS");
        return;
    }
    if (!opt_.password.empty() && !authenticated_) return start_auth();
    phase_ = Phase::Ready;
    state_ = ClientState::Ready;
}

void ClientSession::on_starttls(const ServerReply& r) {
    if (r.code != 220) return fail(ClientError::StartTlsRefused);
    phase_ = Phase::TlsHandshake;
    state_ = ClientState::NeedTls;
}

void ClientSession::tls_started() noexcept {
    if (phase_ != Phase::TlsHandshake) return;
    // RFC 3207 4.2: forget everything learnt before TLS, and whatever the server sent.
    tls_ = true;
    ext_ = Extensions{};
    reader_ = ReplyReader(opt_.limits);
    state_ = ClientState::Busy;
    try {
        send_ehlo();
    } catch (...) {
        fail(ClientError::NotReady);
    }
}

void ClientSession::start_auth() {
    // RFC 4954 4: PLAIN in the initial response (RFC 4616); LOGIN when PLAIN is missing.
    if (ext_.has_auth("PLAIN")) {
        std::string msg;
        msg += '\0';
        msg += opt_.user;
        msg += '\0';
        msg += opt_.password;
        phase_ = Phase::AuthPlain;
        put("AUTH PLAIN " + sasl_base64_encode(msg));
    } else if (ext_.has_auth("LOGIN")) {
        phase_ = Phase::AuthLoginUser;
        put("AUTH LOGIN");
    } else {
        fail(ClientError::AuthNotOffered);
    }
}

void ClientSession::on_auth(const ServerReply& r) {
    if (r.code == 235) {
        authenticated_ = true;
        return after_hello();
    }
    if (r.code == 334 && phase_ == Phase::AuthLoginUser) {
        // The challenge would be "Username:"; we answer in order and do not parse it.
        phase_ = Phase::AuthLoginPass;
        put(sasl_base64_encode(opt_.user));
        return;
    }
    if (r.code == 334 && phase_ == Phase::AuthLoginPass) {
        phase_ = Phase::AuthPlain;  // the next reply is the verdict
        put(sasl_base64_encode(opt_.password));
        return;
    }
    if (r.code == 334) put("*");  // RFC 4954 4: cancel an exchange we cannot follow
    fail(ClientError::AuthFailed);
}

ClientError ClientSession::send_mail(std::string_view from, std::span<const std::string> recipients,
                                     std::string_view body) {
    return start_mail(from, recipients, body, nullptr);
}

ClientError ClientSession::send_mail_taking(std::string_view from, std::span<const std::string> recipients,
                                            std::string& body) {
    return start_mail(from, recipients, body, &body);
}

ClientError ClientSession::start_mail(std::string_view from, std::span<const std::string> recipients,
                                      std::string_view body, std::string* owned) {
    if (state_ != ClientState::Ready) return ClientError::NotReady;
    if (bad_address(from) || recipients.empty()) return ClientError::BadArgument;
    for (const auto& r : recipients)
        if (bad_address(r) || r.empty()) return ClientError::BadArgument;

    // RFC 3030 2: BDAT when offered; the chunk's length frames the body, so no stuffing.
    // Over the server's SIZE, DATA: MAIL will be refused (RFC 1870 6), and a refused DATA
    // costs no body where a pipelined chunk would still be sent in full.
    const std::size_t chunk = opt_.chunking && ext_.chunking ? crlf_body_size(body) : 0;
    const bool bdat = opt_.chunking && ext_.chunking && (ext_.size == 0 || chunk <= ext_.size);
    bdat_ = bdat;
    mail_cmd_ = "MAIL FROM:<" + std::string(from) + ">";
    const bool eight_bit = ext_.eight_bit_mime && non_ascii(body);
    body_.clear();
    if (!bdat && owned && data_ready(body)) {
        body_.swap(*owned);  // `body` is not used after this: it viewed *owned
        body_.append(".\r\n");
    } else if (!bdat) {
        append_stuffed_body(body_, body);
    }
    // RFC 1870 6: declare the size so that a server can refuse before DATA.
    if (ext_.size_offered) mail_cmd_ += " SIZE=" + std::to_string(bdat ? chunk : body_.size());
    if (eight_bit) mail_cmd_ += " BODY=8BITMIME";
    bool utf8 = non_ascii(from);
    for (const auto& r : recipients) utf8 = utf8 || non_ascii(r);
    if (utf8 && ext_.smtputf8) mail_cmd_ += " SMTPUTF8";
    rcpt_cmds_.clear();
    for (const auto& r : recipients) rcpt_cmds_.push_back("RCPT TO:<" + r + ">");

    result_ = MailResult{};
    result_.rcpt.resize(recipients.size());
    pending_.clear();
    rcpt_sent_ = rcpt_replied_ = 0;
    phase_ = Phase::Transaction;
    state_ = ClientState::Busy;
    const bool rset = need_rset_;
    need_rset_ = true;  // RSET before every later message
    if (bdat && !ext_.pipelining) {
        // Sent once every RCPT is answered; `body` may be gone by then.
        append_bdat(body_, body, chunk);
    }
    if (rset) {
        put("RSET");
        pending_.push_back(Pending::Rset);
        if (!ext_.pipelining) return ClientError::None;  // MAIL follows RSET's reply
    }
    put(mail_cmd_);
    pending_.push_back(Pending::Mail);
    if (ext_.pipelining) {
        // RFC 2920 3.1: MAIL, every RCPT and DATA go as one group; DATA ends it. BDAT
        // LAST ends it the same way.
        for (const auto& c : rcpt_cmds_) {
            put(c);
            pending_.push_back(Pending::Rcpt);
        }
        rcpt_sent_ = rcpt_cmds_.size();
        if (bdat) {
            // RFC 3030 2 (example 4.2): BDAT may join the group, chunk and all, straight from
            // `body` into the output. If no RCPT succeeds the server reads the chunk and
            // refuses it (RFC 3030 2), so the stream stays in step.
            append_bdat(out_, body, chunk);
            pending_.push_back(Pending::Bdat);
            result_.chunked = true;
        } else {
            put("DATA");
            pending_.push_back(Pending::Data);
        }
    }
    return ClientError::None;
}

bool ClientSession::any_rcpt_accepted() const noexcept {
    return is_2xx(result_.mail) && std::any_of(result_.rcpt.begin(), result_.rcpt.end(), is_2xx);
}

// Without PIPELINING each command waits for the reply to the one before.
void ClientSession::next_unpipelined() {
    if (!is_2xx(result_.mail)) return finish_transaction();
    if (rcpt_sent_ < rcpt_cmds_.size()) {
        put(rcpt_cmds_[rcpt_sent_++]);
        pending_.push_back(Pending::Rcpt);
        return;
    }
    if (!any_rcpt_accepted()) return finish_transaction();
    if (bdat_) {
        out_.append(body_);  // BDAT <n> LAST and the chunk
        pending_.push_back(Pending::Bdat);
        result_.chunked = true;
        return;
    }
    put("DATA");
    pending_.push_back(Pending::Data);
}

void ClientSession::on_transaction(ServerReply&& r) {
    if (pending_.empty()) return fail(ClientError::UnexpectedReply);
    const Pending p = pending_.front();
    pending_.pop_front();
    switch (p) {
    case Pending::Rset:
        // A refused RSET shows in the replies that follow.
        if (!ext_.pipelining) {
            put(mail_cmd_);
            pending_.push_back(Pending::Mail);
        }
        return;
    case Pending::Mail:
        result_.mail = std::move(r);
        if (!ext_.pipelining) next_unpipelined();
        return;
    case Pending::Rcpt:
        result_.rcpt[rcpt_replied_++] = std::move(r);
        if (!ext_.pipelining) next_unpipelined();
        return;
    case Pending::Data: {
        const bool go = r.code == 354;
        result_.data = std::move(r);
        if (!go) return finish_transaction();
        const bool any = any_rcpt_accepted();
        // RFC 2920 3.1: a 354 after every RCPT failed still needs the data ended; we
        // send an empty message, which the server must refuse for want of recipients.
        if (any && out_.empty()) out_.swap(body_);  // the body is not copied again
        else out_.append(any ? std::string_view(body_) : std::string_view(".\r\n"));
        pending_.push_back(Pending::EndOfData);
        if (!any) result_.data.code = 0;
        return;
    }
    case Pending::EndOfData:
        result_.data = any_rcpt_accepted() ? std::move(r) : ServerReply{};
        return finish_transaction();
    case Pending::Bdat:
        // RFC 3030 2: BDAT LAST's reply is the message's. With every RCPT refused it is a
        // refusal (503, 554), kept like a refusal of DATA; a 2xx then delivered to no one.
        result_.data = any_rcpt_accepted() || !is_2xx(r) ? std::move(r) : ServerReply{};
        return finish_transaction();
    }
}

Awaiting ClientSession::awaiting() const noexcept {
    if (state_ != ClientState::Busy) return Awaiting::Nothing;
    if (phase_ == Phase::Greeting) return Awaiting::Greeting;
    if (phase_ != Phase::Transaction || pending_.empty()) return Awaiting::Other;
    switch (pending_.front()) {  // the reply due first; pipelined ones follow it
    case Pending::Mail: return Awaiting::Mail;
    case Pending::Rcpt: return Awaiting::Rcpt;
    case Pending::Data: return Awaiting::Data;
    case Pending::EndOfData: return Awaiting::EndOfData;
    case Pending::Bdat: return Awaiting::EndOfData;  // BDAT LAST: the chunk is the body, its reply the end
    case Pending::Rset: break;
    }
    return Awaiting::Other;
}

void ClientSession::finish_transaction() {
    if (!pending_.empty()) return;  // pipelined replies still due
    // The buffer is reused by the next message (it and out_ trade buffers at 354); a
    // large one is not kept by an idle connection.
    body_.clear();
    if (body_.capacity() > kKeptBody) body_.shrink_to_fit();
    phase_ = Phase::Ready;
    state_ = ClientState::Ready;
}

ClientError ClientSession::command(std::string_view line) {
    if (state_ != ClientState::Ready) return ClientError::NotReady;
    if (has_control(line)) return ClientError::BadArgument;
    put(line);
    phase_ = Phase::Command;
    state_ = ClientState::Busy;
    return ClientError::None;
}

void ClientSession::quit() {
    if (state_ == ClientState::Closed || state_ == ClientState::Failed) return;
    put("QUIT");
    phase_ = Phase::Quit;
    state_ = ClientState::Busy;
}

void ClientSession::connection_closed() noexcept {
    if (phase_ == Phase::Quit) {
        phase_ = Phase::Done;
        state_ = ClientState::Closed;
        return;
    }
    if (state_ == ClientState::Failed || state_ == ClientState::Closed) return;
    fail(ClientError::ConnectionClosed);
}

}  // namespace ringmail::proto
