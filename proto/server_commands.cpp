// proto/server_commands.cpp — one function per SMTP verb (RFC 5321 4.1.1, RFC 3030 2,
// RFC 4954 4, RFC 3207 4) and the table that dispatches to them. Each checks its sequence and
// arguments, then either replies or pauses for a handler's verdict.
#include <algorithm>
#include <charconv>

#include "base/ascii.hpp"
#include "proto/path.hpp"
#include "proto/sasl.hpp"
#include "proto/server_session.hpp"

namespace ringmail::proto {
namespace {

// Letters-only folding (base/ascii.hpp): "MAIL FROM\x1a<...>" must not pass for "FROM:".
using base::iequals;
using base::istarts_with;

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

using Handler = void (ServerSession::*)(std::string_view);

// Junk: commands a client could repeat forever at no cost; see Limits::max_junk_commands.
enum Flags : std::uint8_t { None = 0, Junk = 1 };

struct Command {
    std::string_view verb;
    Handler handler;
    std::uint8_t flags;
};

constexpr Command commands[] = {
    {"EHLO", &ServerSession::cmd_ehlo, Junk},
    {"HELO", &ServerSession::cmd_helo, Junk},
    {"MAIL", &ServerSession::cmd_mail, None},
    {"RCPT", &ServerSession::cmd_rcpt, None},
    {"DATA", &ServerSession::cmd_data, None},
    {"BDAT", &ServerSession::cmd_bdat, None},
    {"RSET", &ServerSession::cmd_rset, Junk},
    {"NOOP", &ServerSession::cmd_noop, Junk},
    {"QUIT", &ServerSession::cmd_quit, None},
    {"VRFY", &ServerSession::cmd_vrfy, Junk},
    {"HELP", &ServerSession::cmd_help, Junk},
    {"AUTH", &ServerSession::cmd_auth, None},
    {"EXPN", &ServerSession::cmd_not_implemented, None},
    {"TURN", &ServerSession::cmd_not_implemented, None},
    {"ETRN", &ServerSession::cmd_not_implemented, None},
    {"STARTTLS", &ServerSession::cmd_starttls, None},  // offered with a certificate only
    // Another protocol talking to our port (a browser or proxy tricked into it): hang up.
    {"GET", &ServerSession::cmd_forbidden, None},
    {"POST", &ServerSession::cmd_forbidden, None},
    {"CONNECT", &ServerSession::cmd_forbidden, None},
};

}  // namespace

void ServerSession::command(std::string_view line) {
    if (line.find('\0') != std::string_view::npos) {
        reply(Error::Unrecognized);
        return;
    }
    const std::size_t sp = line.find(' ');
    const std::string_view verb = line.substr(0, sp);
    const std::string_view arg = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    for (const auto& c : commands) {
        if (iequals(verb, c.verb)) {
            (this->*c.handler)(arg);
            if (c.flags & Junk) count_junk();
            return;
        }
    }
    reply(Error::Unrecognized);
}

void ServerSession::cmd_ehlo(std::string_view arg) {
    arg = trim(arg);
    if (arg.empty()) return reply(Error::SyntaxArgs);
    reset_transaction();  // RFC 5321 4.1.4: EHLO implies RSET
    helo_.assign(arg);
    greeted_ = true;
    esmtp_ = true;
    append_reply(out_, 250, "", hostname_ + " Hello " + helo_, true);
    const std::string size = "SIZE " + std::to_string(limits_.max_message_size);
    for (std::string_view ext : {std::string_view("PIPELINING"), std::string_view(size),
                                 std::string_view("8BITMIME"), std::string_view("ENHANCEDSTATUSCODES"),
                                 std::string_view("SMTPUTF8"), std::string_view("CHUNKING")})
        append_reply(out_, 250, "", ext, true);
    // RFC 3207 4.2: not offered again once TLS is active.
    if (features_.starttls && !tls_active_) append_reply(out_, 250, "", "STARTTLS", true);
    // RFC 4954 6 and Postfix's smtpd_tls_auth_only: no AUTH in the clear unless allowed.
    if (features_.auth && user_.empty() && auth_allowed()) append_reply(out_, 250, "", "AUTH PLAIN LOGIN", true);
    append_reply(out_, 250, "", "HELP");
}

void ServerSession::cmd_helo(std::string_view arg) {
    arg = trim(arg);
    if (arg.empty()) return reply(Error::SyntaxArgs);
    reset_transaction();
    helo_.assign(arg);
    greeted_ = true;
    esmtp_ = false;
    reply(250, "", hostname_);
}

void ServerSession::cmd_mail(std::string_view arg) {
    if (!greeted_) return reply(Error::NeedHelo);
    if (in_mail_) return reply(Error::NestedMail);
    if (!istarts_with(arg, "FROM:")) return reply(Error::SyntaxArgs);
    const PathParse path = parse_path(arg.substr(5), false);
    if (path.error != Error::None) return reply(path.error);
    if (!esmtp_ && !path.params.empty()) return reply(Error::UnknownParameter);
    const MailParams params = parse_mail_params(path.params);
    if (params.error != Error::None) return reply(params.error);
    if (path.non_ascii && !params.smtputf8) return reply(Error::NonAsciiAddress);
    if (params.size > limits_.max_message_size) return reply(Error::SizeDeclaredTooBig);
    if (storage_available_ == 0 || params.size > storage_available_) return reply(Error::InsufficientStorage);
    in_mail_ = true;
    smtputf8_ = params.smtputf8;
    sender_.assign(path.address);
    reply(250, "2.1.0", "OK");
}

void ServerSession::cmd_rcpt(std::string_view arg) {
    if (!in_mail_) return reply(Error::NeedMail);
    if (!istarts_with(arg, "TO:")) return reply(Error::SyntaxArgs);
    const PathParse path = parse_path(arg.substr(3), true);
    if (path.error != Error::None) return reply(path.error);
    if (const Error e = check_rcpt_params(path.params); e != Error::None) return reply(e);
    if (path.non_ascii && !smtputf8_) return reply(Error::NonAsciiAddress);
    // RFC 5321 4.5.3.1.10: 452 asks the client to send the rest in a later transaction.
    // That is no error of the client's, up to the overshoot limit.
    if (rcpt_count_ >= limits_.max_recipients) {
        if (++overshoot_ > limits_.max_recipient_overshoot) return reply(Error::TooManyRecipients);
        return append_reply(out_, Error::TooManyRecipients);
    }
    pending_rcpt_.assign(path.address);
    need_ = Need::Recipient;
}

void ServerSession::cmd_data(std::string_view arg) {
    if (!trim(arg).empty()) return reply(Error::SyntaxArgs);
    if (!in_mail_) return reply(Error::NeedMail);
    if (used_bdat_) return reply(Error::DataAfterBdat);
    if (rcpt_count_ == 0) return reply(Error::NoValidRecipients);
    body_.clear();
    ++message_seq_;
    reader_.start(keep_bodies_ ? &body_ : nullptr, limits_.max_message_size, limits_.max_text_line);
    phase_ = Phase::Data;
    reply(354, "", "End data with <CR><LF>.<CR><LF>");
}

void ServerSession::cmd_bdat(std::string_view arg) {
    arg = trim(arg);
    const std::size_t sp = arg.find(' ');
    const std::string_view num = arg.substr(0, sp);
    const std::string_view rest = sp == std::string_view::npos ? std::string_view{} : trim(arg.substr(sp + 1));
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
    if (num.empty() || ec != std::errc{} || p != num.data() + num.size() ||
        !(rest.empty() || iequals(rest, "LAST")))
        return reply(Error::SyntaxArgs);
    bdat_valid_ = in_mail_ && rcpt_count_ > 0;
    bdat_last_ = !rest.empty();
    bdat_left_ = n;
    if (bdat_valid_ && !used_bdat_) {
        used_bdat_ = true;
        body_.clear();
        ++message_seq_;
        reader_.start(keep_bodies_ ? &body_ : nullptr, limits_.max_message_size, limits_.max_text_line);
    }
    // RFC 3030 2: the chunk is read even when the command fails, so it is never
    // mistaken for commands.
    phase_ = Phase::Bdat;
    if (n == 0) end_of_chunk();
}

void ServerSession::cmd_rset(std::string_view arg) {
    if (!trim(arg).empty()) return reply(Error::SyntaxArgs);
    reset_transaction();
    reply(250, "2.0.0", "OK");
}

void ServerSession::cmd_noop(std::string_view) { reply(250, "2.0.0", "OK"); }

void ServerSession::cmd_quit(std::string_view) {
    append_reply(out_, 221, "2.0.0", "Bye");
    need_ = Need::Close;
}

void ServerSession::cmd_vrfy(std::string_view arg) {
    if (trim(arg).empty()) return reply(Error::SyntaxArgs);
    // RFC 5321 3.5.3: 252 when we will not verify but would accept.
    reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

void ServerSession::cmd_help(std::string_view) {
    append_reply(out_, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP AUTH", true);
    append_reply(out_, 214, "2.0.0", "See RFC 5321");
}

void ServerSession::cmd_not_implemented(std::string_view) { reply(Error::NotImplemented); }

// As Postfix's smtpd_forbidden_commands: close at once instead of answering each line
// of an HTTP request with 500.
void ServerSession::cmd_forbidden(std::string_view) {
    append_reply(out_, 221, "2.7.0", "Not an SMTP command, closing connection");
    need_ = Need::Close;
}

void ServerSession::cmd_auth(std::string_view arg) {
    if (!features_.auth) return reply(Error::NotImplemented);
    if (!auth_allowed()) return reply(Error::EncryptionRequired);
    if (!esmtp_) return reply(Error::NeedHelo);
    if (!user_.empty()) return reply(Error::AuthAlready);
    if (in_mail_) return reply(Error::AuthInTransaction);
    arg = trim(arg);
    const std::size_t sp = arg.find(' ');
    const std::string_view mech = arg.substr(0, sp);
    const bool initial = sp != std::string_view::npos;
    const std::string_view resp = initial ? trim(arg.substr(sp + 1)) : std::string_view{};
    if (iequals(mech, "PLAIN")) {
        if (!initial) {
            phase_ = Phase::AuthPlain;
            append_reply(out_, 334, "", "");
            return;
        }
        phase_ = Phase::AuthPlain;
        return auth_response(resp == "=" ? std::string_view{} : resp);
    }
    if (iequals(mech, "LOGIN")) {
        phase_ = Phase::AuthUser;
        if (!initial) {
            append_reply(out_, 334, "", "VXNlcm5hbWU6");  // "Username:"
            return;
        }
        return auth_response(resp);
    }
    reply(Error::AuthMechanism);
}

// RFC 3207 4: "220 Ready to start TLS", then the engine takes over. Whatever the client
// sent after this line is discarded by the engine, never read as commands (RFC 3207 5).
void ServerSession::cmd_starttls(std::string_view arg) {
    if (!features_.starttls && !tls_active_) return reply(Error::NotImplemented);
    if (tls_active_) return reply(Error::TlsAlreadyActive);
    if (!trim(arg).empty()) return reply(Error::SyntaxArgs);  // RFC 3207 4: no parameters
    if (in_mail_) return reply(Error::TlsInTransaction);
    append_reply(out_, 220, "2.0.0", "Ready to start TLS");
    need_ = Need::StartTls;
}

void ServerSession::auth_response(std::string_view line) {
    const Phase phase = phase_;
    phase_ = Phase::Command;
    if (line == "*") return reply(Error::AuthCancelled);  // RFC 4954 4
    auto decoded = sasl_base64_decode(line == "=" ? std::string_view{} : line);
    if (!decoded) return reply(Error::AuthBadBase64);
    switch (phase) {
    case Phase::AuthPlain: {
        auto creds = split_plain(*decoded);
        if (!creds) return reply(Error::AuthBadBase64);
        auth_user_ = std::move(creds->user);
        auth_pass_ = std::move(creds->password);
        need_ = Need::Auth;
        return;
    }
    case Phase::AuthUser:
        // RFC 4616 forbids NUL in PLAIN's fields (split_plain refuses a third one); LOGIN
        // has no rule, but a NUL would end the name or password early in crypt(3) and in
        // most handlers, so a password "secret\0anything" would pass as "secret".
        if (decoded->find('\0') != std::string::npos) return reply(Error::AuthNulInCredentials);
        auth_user_ = std::move(*decoded);
        phase_ = Phase::AuthPass;
        append_reply(out_, 334, "", "UGFzc3dvcmQ6");  // "Password:"
        return;
    case Phase::AuthPass:
        if (decoded->find('\0') != std::string::npos) return reply(Error::AuthNulInCredentials);
        auth_pass_ = std::move(*decoded);
        need_ = Need::Auth;
        return;
    default:
        return;
    }
}

}  // namespace ringmail::proto
