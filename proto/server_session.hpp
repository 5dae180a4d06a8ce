// proto/server_session.hpp — server side of RFC 5321 with PIPELINING (2920), SIZE (1870),
// 8BITMIME (6152), ENHANCEDSTATUSCODES (2034), SMTPUTF8 (6531), CHUNKING (3030) and
// AUTH PLAIN/LOGIN (4954) and STARTTLS (3207). Pure: no I/O, no clock reads. Any split of the input gives the
// same replies: a command is acted on only once its whole line is here.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/body_reader.hpp"
#include "proto/limits.hpp"
#include "proto/reply.hpp"

namespace ringmail::proto {

// What the session waits for. Anything but Input pauses feed() until resolve(), or for
// StartTls until tls_started(): the engine sends the 220 in plaintext, DISCARDS the rest
// of the input it holds (RFC 3207 5, CVE-2011-0411: never execute commands pipelined
// before the handshake), runs the handshake and then calls tls_started().
enum class Need : std::uint8_t { Input, Recipient, Auth, Message, StartTls, Close };

struct Step {
    std::size_t consumed;  // bytes of `in` we are done with; the caller keeps the rest
    Need need;
};

enum class Outcome : std::uint8_t { Accept, TempFail, Reject };

struct Resolution {
    Outcome outcome = Outcome::Accept;
    std::string_view text;    // reply text; empty gives the default
    std::string_view status;  // enhanced status code (RFC 3463); empty gives the default
    std::uint16_t code = 0;   // reply code of a refusal, in the outcome's class; 0: the default

    constexpr Resolution() noexcept = default;
    constexpr Resolution(Outcome o, std::string_view t = {}, std::string_view st = {}, std::uint16_t c = 0) noexcept
        : outcome(o), text(t), status(st), code(c) {}
};

// One finished message, moved out of the session; owns all its bytes.
struct Envelope {
    std::string helo;
    std::string user;                     // authenticated name, empty if none
    std::string sender;                   // empty for the null path <>
    std::vector<std::string> recipients;  // accepted ones only
    std::string body;                     // unstuffed, as received
    bool smtputf8 = false;
};

class ServerSession {
public:
    ServerSession(const Limits& limits, Features features, std::string_view hostname) noexcept;
    // reader_ holds a pointer to body_: a copied or moved session would write into the
    // old one's body. Sessions stay where they were made (the reactor holds them by slot).
    ServerSession(const ServerSession&) = delete;
    ServerSession& operator=(const ServerSession&) = delete;

    // Appends the 220 greeting (RFC 5321 4.3.1).
    void greet(Timestamp now) noexcept;
    Step feed(std::span<const char> in, Timestamp now) noexcept;

    // Answers the pending Need (Recipient, Auth or Message) and resumes input.
    void resolve(const Resolution& v) noexcept;
    // The TLS handshake finished: after STARTTLS, or before the greeting on an implicit
    // TLS port. RFC 3207 4.2: forget everything the client said before (EHLO, AUTH, the
    // transaction); the client starts again with EHLO. No new greeting is sent.
    void tls_started() noexcept;
    bool tls_active() const noexcept { return tls_active_; }

    std::string_view recipient() const noexcept { return pending_rcpt_; }  // Need::Recipient
    std::string_view auth_user() const noexcept { return auth_user_; }     // Need::Auth
    std::string_view auth_password() const noexcept { return auth_pass_; }
    Envelope take_message() noexcept;                                      // Need::Message
    // Need::Message, for a handler that drops the message: the transaction ends as with
    // take_message(), and the body's buffer comes back (cleared) for lend_body_buffer().
    std::string discard_message() noexcept;
    // A spare buffer (cleared) for the next message's body, taken only while the session
    // has none: the engine recycles bodies so that a message costs no allocation.
    void lend_body_buffer(std::string&& spare) noexcept;
    bool has_body_buffer() const noexcept { return body_.capacity() > std::string().capacity(); }
    // The message received so far, for a parser that reads along as data arrives; valid
    // until the next feed(). message_seq() changes whenever a new message starts.
    std::string_view body_so_far() const noexcept { return body_; }
    // Octets of the message so far (unstuffed), kept or not.
    std::uint64_t message_size() const noexcept { return reader_.size(); }
    // false: no message is kept (a server that drops them all, and reads none): bodies are
    // checked and counted as ever, body_so_far() stays empty. Set before mail arrives.
    void keep_bodies(bool keep) noexcept { keep_bodies_ = keep; }
    std::string_view sender() const noexcept { return sender_; }  // of the transaction
    bool authenticated() const noexcept { return !user_.empty(); }
    std::span<const std::string> recipients() const noexcept { return {recipients_.data(), rcpt_count_}; }
    std::uint32_t message_seq() const noexcept { return message_seq_; }

    // Idle limit of RFC 5321 4.5.3.2; on expiry appends 421 and returns true (Need::Close).
    bool expire(Timestamp now) noexcept;
    // Between transactions and not waiting on a handler: safe to close at shutdown.
    bool idle() const noexcept;
    void shut_down() noexcept;  // appends 421 4.3.2 and closes

    // The server's room for message bodies (issue 13 item 3), set by the engine before
    // each feed(): MAIL gets 452 4.3.1 when none is left or its SIZE= is above it (RFC
    // 1870 6.1), without counting as the client's error.
    void set_storage_available(std::uint64_t bytes) noexcept { storage_available_ = bytes; }
    // The budget ran out while this message arrived: its body is dropped, the rest read
    // to the end and answered 452 4.3.1. No effect outside message data.
    void drop_body() noexcept;

    Need need() const noexcept { return need_; }
    std::string& output() noexcept { return out_; }  // replies not yet sent

    // Command handlers, used by the verb table in server_commands.cpp.
    void cmd_ehlo(std::string_view arg);
    void cmd_helo(std::string_view arg);
    void cmd_mail(std::string_view arg);
    void cmd_rcpt(std::string_view arg);
    void cmd_data(std::string_view arg);
    void cmd_bdat(std::string_view arg);
    void cmd_rset(std::string_view arg);
    void cmd_noop(std::string_view arg);
    void cmd_quit(std::string_view arg);
    void cmd_vrfy(std::string_view arg);
    void cmd_help(std::string_view arg);
    void cmd_auth(std::string_view arg);
    void cmd_starttls(std::string_view arg);
    void cmd_not_implemented(std::string_view arg);
    void cmd_forbidden(std::string_view arg);
    void count_junk() noexcept;  // after a command flagged Junk in the verb table

private:
    enum class Phase : std::uint8_t { Command, Data, Bdat, AuthPlain, AuthUser, AuthPass };

    std::size_t feed_line(std::span<const char> in) noexcept;
    std::size_t feed_bdat(std::span<const char> in) noexcept;
    void command(std::string_view line);
    void auth_response(std::string_view line);
    void end_of_chunk();
    void finish_message();
    void reset_transaction() noexcept;
    void reply(Error e);
    void reply(unsigned code, std::string_view status, std::string_view text);
    void count_error() noexcept;
    void close_with(Error e);
    std::size_t line_limit() const noexcept;
    bool auth_allowed() const noexcept { return !features_.auth_requires_tls || tls_active_; }

    Limits limits_;
    Features features_;
    std::string hostname_;
    std::string out_;

    Phase phase_ = Phase::Command;
    Need need_ = Need::Input;
    bool skipping_ = false;        // discarding the rest of an over-long line
    bool esmtp_ = false;
    bool greeted_ = false;         // EHLO or HELO seen
    bool tls_active_ = false;      // the connection is encrypted (STARTTLS or implicit)
    bool keep_bodies_ = true;
    unsigned errors_ = 0;          // both forgiven after a message is accepted, as Postfix
    unsigned junk_ = 0;
    unsigned auth_failures_ = 0;   // never forgiven in this session
    Timestamp last_input_ = 0;

    // The transaction (RFC 5321 3.3).
    bool in_mail_ = false;
    bool smtputf8_ = false;
    bool used_bdat_ = false;
    bool bdat_last_ = false;
    bool bdat_valid_ = false;
    std::uint64_t bdat_left_ = 0;
    std::string helo_;
    std::string user_;
    std::string sender_;
    // The first rcpt_count_ are this transaction's; the strings after them keep their
    // buffers for the next transaction (at most kKeptRecipients of them).
    std::vector<std::string> recipients_;
    std::size_t rcpt_count_ = 0;
    std::size_t overshoot_ = 0;    // RCPTs refused past max_recipients in this transaction
    std::string body_;
    std::uint32_t message_seq_ = 0;
    BodyReader reader_;
    std::uint64_t storage_available_ = UINT64_MAX;

    std::string pending_rcpt_;
    std::string auth_user_;
    std::string auth_pass_;
};

}  // namespace ringmail::proto
