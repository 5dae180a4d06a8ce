// proto/server_session.cpp — input framing (lines, DATA, BDAT chunks), verdicts, limits.
// Commands are acted on whole-line only and data is scanned by BodyReader, so any split
// of the input gives the same replies (invariant 3). Errors during data are latched and
// answered once at the end of the message (invariant 4).
#include "proto/server_session.hpp"

#include <algorithm>
#include <cstring>

namespace ringmail::proto {

ServerSession::ServerSession(const Limits& limits, Features features, std::string_view hostname) noexcept
    : limits_(limits), features_(features), hostname_(hostname) {}

void ServerSession::greet(Timestamp now) noexcept {
    last_input_ = now;
    reply(220, "", hostname_ + " ESMTP ringmail");
}

std::size_t ServerSession::line_limit() const noexcept {
    return phase_ == Phase::Command ? limits_.max_command_line : limits_.max_auth_line;
}

Step ServerSession::feed(std::span<const char> in, Timestamp now) noexcept {
    if (!in.empty()) last_input_ = now;
    std::size_t pos = 0;
    while (pos < in.size() && need_ == Need::Input) {
        std::size_t used = 0;
        switch (phase_) {
        case Phase::Data: {
            const auto r = reader_.feed_data(in.subspan(pos));
            used = r.consumed;
            if (r.done) {
                phase_ = Phase::Command;
                finish_message();
            }
            break;
        }
        case Phase::Bdat:
            used = feed_bdat(in.subspan(pos));
            break;
        default:
            used = feed_line(in.subspan(pos));
            break;
        }
        if (used == 0) break;  // an incomplete line: wait for more bytes
        pos += used;
    }
    return {pos, need_};
}

// One line (command or SASL response); 0 when the line is not complete yet.
std::size_t ServerSession::feed_line(std::span<const char> in) noexcept {
    const void* lf = std::memchr(in.data(), '\n', in.size());
    const std::size_t limit = line_limit();
    if (skipping_) {
        if (!lf) return in.size();
        skipping_ = false;
        return static_cast<std::size_t>(static_cast<const char*>(lf) - in.data()) + 1;
    }
    // RFC 4954 4: an over-long SASL response has its own code, 500 5.5.6.
    const Error too_long = phase_ == Phase::Command ? Error::LineTooLong : Error::AuthLineTooLong;
    if (!lf) {
        if (in.size() < limit) return 0;
        // Over the limit with no end in sight: answer now, drop the rest of the line.
        skipping_ = true;
        phase_ = Phase::Command;  // an over-long SASL response ends the exchange
        reply(too_long);
        return in.size();
    }
    const std::size_t len = static_cast<std::size_t>(static_cast<const char*>(lf) - in.data()) + 1;
    if (len > limit) {
        phase_ = Phase::Command;
        reply(too_long);
        return len;
    }
    std::string_view line(in.data(), len - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (phase_ == Phase::Command) command(line);
    else auth_response(line);
    return len;
}

std::size_t ServerSession::feed_bdat(std::span<const char> in) noexcept {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(bdat_left_, in.size()));
    if (bdat_valid_) reader_.feed_chunk(in.first(n));
    bdat_left_ -= n;
    if (bdat_left_ == 0) end_of_chunk();
    return n;
}

void ServerSession::end_of_chunk() {
    phase_ = Phase::Command;
    if (!bdat_valid_) {
        reply(Error::BdatNoTransaction);
        return;
    }
    if (bdat_last_) {
        reader_.finish_chunks();
        finish_message();
        return;
    }
    if (const Error e = reader_.error(); e != Error::None) {
        // RFC 3030 2: a failed chunk fails the transaction; later BDATs get 503.
        reset_transaction();
        reply(e);
        return;
    }
    reply(250, "2.0.0", "Chunk received");
}

void ServerSession::finish_message() {
    if (const Error e = reader_.error(); e != Error::None) {
        reset_transaction();
        reply(e);
        return;
    }
    need_ = Need::Message;
}

Envelope ServerSession::take_message() noexcept {
    Envelope m;
    m.helo = helo_;
    m.user = user_;
    m.sender = sender_;
    m.recipients.assign(std::make_move_iterator(recipients_.begin()),
                        std::make_move_iterator(recipients_.begin() + static_cast<std::ptrdiff_t>(rcpt_count_)));
    rcpt_count_ = 0;
    m.body = std::move(body_);
    m.smtputf8 = smtputf8_;
    body_.clear();
    return m;
}

std::string ServerSession::discard_message() noexcept {
    rcpt_count_ = 0;
    std::string body = std::move(body_);
    body.clear();
    body_.clear();
    return body;
}

void ServerSession::lend_body_buffer(std::string&& spare) noexcept {
    if (has_body_buffer() || phase_ == Phase::Data || phase_ == Phase::Bdat) return;
    body_ = std::move(spare);
    body_.clear();
}

void ServerSession::resolve(const Resolution& v) noexcept {
    const Need was = need_;
    need_ = Need::Input;
    const bool ok = v.outcome == Outcome::Accept;
    const bool temp = v.outcome == Outcome::TempFail;
    auto text = [&](std::string_view dflt) { return v.text.empty() ? dflt : v.text; };
    auto status = [&](std::string_view dflt) { return v.status.empty() ? dflt : v.status; };
    // A code of the handler's own only within the class its outcome says (4xx or 5xx).
    auto code = [&](unsigned dflt) { return v.code / 100 == dflt / 100 ? v.code : dflt; };
    switch (was) {
    case Need::Recipient:
        if (ok) {
            // Into a kept string when there is one: no allocation per recipient.
            if (rcpt_count_ < recipients_.size()) recipients_[rcpt_count_].assign(pending_rcpt_);
            else recipients_.push_back(pending_rcpt_);
            ++rcpt_count_;
            reply(250, "2.1.5", text("OK"));
        } else if (temp) {
            reply(code(450), status("4.2.0"), text("Recipient temporarily unavailable"));
        } else {
            reply(code(550), status("5.1.1"), text("Recipient rejected"));
        }
        pending_rcpt_.clear();
        break;
    case Need::Auth:
        if (ok) {
            user_ = std::move(auth_user_);
            reply(235, "2.7.0", text("Authentication successful"));
        } else if (temp) {
            reply(454, status("4.7.0"), text("Temporary authentication failure"));
        } else {
            reply(535, "5.7.8", text("Authentication credentials invalid"));
            if (++auth_failures_ >= limits_.max_auth_failures && need_ != Need::Close)
                close_with(Error::TooManyAuthFailures);
        }
        auth_user_.clear();
        // Do not keep the password around longer than the handler needed it.
        std::fill(auth_pass_.begin(), auth_pass_.end(), '\0');
        auth_pass_.clear();
        break;
    case Need::Message:
        reset_transaction();
        if (ok) {
            // A delivered message forgives earlier errors (Postfix does the same), so a
            // long pipelined session with a few bad recipients per mail is not cut off.
            errors_ = 0;
            junk_ = 0;
            reply(250, "2.0.0", text("OK"));
        }
        else if (temp) reply(451, status("4.3.0"), text("Message temporarily deferred"));
        else reply(550, "5.7.1", text("Message rejected"));
        break;
    case Need::Input:
    case Need::StartTls:  // answered by tls_started(), not by a verdict
    case Need::Close:
        need_ = was;  // nothing was asked: a caller bug, ignore
        break;
    }
}

void ServerSession::tls_started() noexcept {
    if (need_ == Need::Close) return;
    reset_transaction();
    phase_ = Phase::Command;
    need_ = Need::Input;
    skipping_ = false;
    esmtp_ = false;
    greeted_ = false;
    helo_.clear();
    user_.clear();
    pending_rcpt_.clear();
    auth_user_.clear();
    std::fill(auth_pass_.begin(), auth_pass_.end(), '\0');
    auth_pass_.clear();
    tls_active_ = true;
}

void ServerSession::reset_transaction() noexcept {
    in_mail_ = false;
    smtputf8_ = false;
    used_bdat_ = false;
    bdat_last_ = false;
    bdat_valid_ = false;
    sender_.clear();
    rcpt_count_ = 0;
    // A transaction with many recipients leaves no more than a few buffers behind.
    constexpr std::size_t kKeptRecipients = 4;
    if (recipients_.size() > kKeptRecipients) {
        recipients_.resize(kKeptRecipients);
        recipients_.shrink_to_fit();
    }
    overshoot_ = 0;
    body_.clear();
}

void ServerSession::reply(unsigned code, std::string_view status, std::string_view text) {
    append_reply(out_, code, status, text);
    if (code >= 400 && code != 421) count_error();
}

void ServerSession::count_error() noexcept {
    if (++errors_ >= limits_.max_errors) close_with(Error::TooManyErrors);
}

void ServerSession::count_junk() noexcept {
    if (++junk_ > limits_.max_junk_commands) count_error();
}

void ServerSession::drop_body() noexcept {
    if (phase_ == Phase::Data || (used_bdat_ && in_mail_)) reader_.fail(Error::InsufficientStorage);
}

void ServerSession::reply(Error e) {
    // Out of storage is the server's trouble, never counted against the client.
    if (e == Error::InsufficientStorage) return append_reply(out_, e);
    const auto& r = info(e);
    reply(r.code, r.status, r.text);
}

void ServerSession::close_with(Error e) {
    if (need_ == Need::Close) return;
    append_reply(out_, e);
    need_ = Need::Close;
}

bool ServerSession::expire(Timestamp now) noexcept {
    if (need_ != Need::Input) return need_ == Need::Close;  // a handler is working for us
    const Timestamp limit = (phase_ == Phase::Data || phase_ == Phase::Bdat)
                                ? limits_.data_timeout_ms : limits_.command_timeout_ms;
    // `now < last_input_` only if the caller's clock went backwards; never expire on that.
    if (now < last_input_ || now - last_input_ < limit) return false;
    close_with(Error::Timeout);
    return true;
}

bool ServerSession::idle() const noexcept {
    return need_ == Need::Input && phase_ == Phase::Command && !in_mail_;
}

void ServerSession::shut_down() noexcept { close_with(Error::ShuttingDown); }

}  // namespace ringmail::proto
