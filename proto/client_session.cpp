// proto/client_session.cpp — the client state machine: greeting, EHLO (HELO on 5xx),
// STARTTLS, AUTH, then MAIL/RCPT/DATA per message with RSET between, and QUIT.
// RFC 5321 3-4, 3207, 4954, 2920. Invariant: every command we write ends in CRLF and
// holds no other CR or LF; a reply is matched to the oldest command still waiting.
#include "proto/client_session.hpp"

#include <algorithm>

#include "proto/sasl.hpp"

namespace ringmail::proto {
namespace {

bool has_control(std::string_view s) noexcept {
    return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}
bool bad_address(std::string_view s) noexcept {
    return has_control(s) || s.find_first_of("<>") != std::string_view::npos;
}
bool non_ascii(std::string_view s) noexcept {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}
bool is_2xx(const ServerReply& r) noexcept { return r.code >= 200 && r.code < 300; }

}  // namespace

std::string stuff_body(std::string_view body) {
    std::string out;
    out.reserve(body.size() + body.size() / 64 + 8);
    bool line_start = true;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < body.size() && body[i + 1] == '\n') ++i;
            out += "\r\n";
            line_start = true;
            continue;
        }
        if (line_start && c == '.') out += '.';  // RFC 5321 4.5.2 transparency
        out += c;
        line_start = false;
    }
    if (!line_start) out += "\r\n";
    out += ".\r\n";
    return out;
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
    if (state_ != ClientState::Ready) return ClientError::NotReady;
    if (bad_address(from) || recipients.empty()) return ClientError::BadArgument;
    for (const auto& r : recipients)
        if (bad_address(r) || r.empty()) return ClientError::BadArgument;

    body_ = stuff_body(body);
    mail_cmd_ = "MAIL FROM:<" + std::string(from) + ">";
    // RFC 1870 6: declare the size so that a server can refuse before DATA.
    if (ext_.size_offered) mail_cmd_ += " SIZE=" + std::to_string(body_.size());
    if (ext_.eight_bit_mime && non_ascii(body)) mail_cmd_ += " BODY=8BITMIME";
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
    if (rset) {
        put("RSET");
        pending_.push_back(Pending::Rset);
        if (!ext_.pipelining) return ClientError::None;  // MAIL follows RSET's reply
    }
    put(mail_cmd_);
    pending_.push_back(Pending::Mail);
    if (ext_.pipelining) {
        // RFC 2920 3.1: MAIL, every RCPT and DATA go as one group; DATA ends it.
        for (const auto& c : rcpt_cmds_) {
            put(c);
            pending_.push_back(Pending::Rcpt);
        }
        rcpt_sent_ = rcpt_cmds_.size();
        put("DATA");
        pending_.push_back(Pending::Data);
    }
    return ClientError::None;
}

// Without PIPELINING each command waits for the reply to the one before.
void ClientSession::next_unpipelined() {
    if (!is_2xx(result_.mail)) return finish_transaction();
    if (rcpt_sent_ < rcpt_cmds_.size()) {
        put(rcpt_cmds_[rcpt_sent_++]);
        pending_.push_back(Pending::Rcpt);
        return;
    }
    const bool any = std::any_of(result_.rcpt.begin(), result_.rcpt.end(), is_2xx);
    if (!any) return finish_transaction();
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
        const bool any = is_2xx(result_.mail) &&
                         std::any_of(result_.rcpt.begin(), result_.rcpt.end(), is_2xx);
        // RFC 2920 3.1: a 354 after every RCPT failed still needs the data ended; we
        // send an empty message, which the server must refuse for want of recipients.
        out_.append(any ? std::string_view(body_) : std::string_view(".\r\n"));
        pending_.push_back(Pending::EndOfData);
        if (!any) result_.data.code = 0;
        return;
    }
    case Pending::EndOfData: {
        const bool had_rcpt = is_2xx(result_.mail) &&
                              std::any_of(result_.rcpt.begin(), result_.rcpt.end(), is_2xx);
        result_.data = had_rcpt ? std::move(r) : ServerReply{};
        return finish_transaction();
    }
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
    case Pending::Rset: break;
    }
    return Awaiting::Other;
}

void ClientSession::finish_transaction() {
    if (!pending_.empty()) return;  // pipelined replies still due
    body_.clear();
    body_.shrink_to_fit();
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
