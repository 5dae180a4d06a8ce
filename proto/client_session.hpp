// proto/client_session.hpp — client side of RFC 5321 (+3207 STARTTLS, 4954 AUTH PLAIN and
// LOGIN, 2920 PIPELINING, 1870 SIZE, 6152 8BITMIME, 6531 SMTPUTF8, 3030 CHUNKING). Pure:
// bytes in, commands out, results as values; no I/O, no clock. Any split of the server's
// bytes gives the same commands and results. No bare CR or LF ever leaves (see stuff_body
// and append_crlf_body).
#pragma once
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/client_reply.hpp"

namespace ringmail::proto {

enum class ClientError : std::uint8_t {
    None,
    BadReply,          // reply syntax, a code change mid-reply, or a reply over the limits
    UnexpectedReply,   // the server spoke when no reply was due
    Greeting,          // greeting other than 220
    Helo,              // EHLO and HELO both refused
    StartTlsNotOffered,
    StartTlsRefused,
    AuthNotOffered,    // a password was given but no PLAIN or LOGIN mechanism is offered
    AuthFailed,
    ServiceClosing,    // 421 (RFC 5321 3.8): the server is closing the channel
    ConnectionClosed,  // the connection ended while a reply was due
    BadArgument,       // CR, LF or NUL in a command or address; <> in an address
    NotReady,          // a request while the session was busy, closed or failed
};

struct ClientErrorInfo {
    ClientError error;
    std::string_view text;
};
inline constexpr ClientErrorInfo client_error_text[] = {
    {ClientError::None, "no error"},
    {ClientError::BadReply, "malformed reply from server"},
    {ClientError::UnexpectedReply, "server sent data when no reply was due"},
    {ClientError::Greeting, "server refused the connection"},
    {ClientError::Helo, "server refused EHLO and HELO"},
    {ClientError::StartTlsNotOffered, "server does not offer STARTTLS"},
    {ClientError::StartTlsRefused, "server refused STARTTLS"},
    {ClientError::AuthNotOffered, "server offers no AUTH PLAIN or LOGIN"},
    {ClientError::AuthFailed, "authentication failed"},
    {ClientError::ServiceClosing, "server is closing the connection"},
    {ClientError::ConnectionClosed, "connection closed by server"},
    {ClientError::BadArgument, "CR, LF, NUL or angle bracket in a command or address"},
    {ClientError::NotReady, "session is not ready for a request"},
};
constexpr std::string_view describe(ClientError e) noexcept {
    return client_error_text[static_cast<std::size_t>(e)].text;
}

struct ClientOptions {
    std::string ehlo_name = "localhost";  // RFC 5321 4.1.1.1: our host name
    bool starttls = false;      // upgrade with STARTTLS; fail if it is not offered
    bool starttls_if_offered = false;  // upgrade when offered, else go on in plaintext
                                       // (RFC 7435 opportunistic security, the relay's default)
    bool tls_active = false;    // already on TLS (implicit TLS): no STARTTLS step
    std::string user, password; // AUTH when the password is not empty
    bool chunking = true;       // BDAT instead of DATA when the server offers CHUNKING (RFC 3030)
    ReplyLimits limits;
};

// What the session waits for.
enum class ClientState : std::uint8_t {
    Busy,     // waiting for the server: write output(), then feed() what comes back
    NeedTls,  // STARTTLS accepted: the engine handshakes, then calls tls_started()
    Ready,    // logged in and idle: send_mail(), command() or quit()
    Closed,   // QUIT answered, or the server closed after QUIT
    Failed,   // error() says why; last_reply() holds the server's reply if any
};

// The reply a Busy session waits for next: RFC 5321 4.5.3.2 gives each its own timeout.
enum class Awaiting : std::uint8_t {
    Nothing,    // not Busy
    Greeting,   // the 220 (4.5.3.2.1)
    Mail,       // MAIL's reply (4.5.3.2.2)
    Rcpt,       // RCPT's (4.5.3.2.3)
    Data,       // DATA's 354 (4.5.3.2.4)
    EndOfData,  // the reply to the final dot or to BDAT LAST; until it is written, the body
                // goes out (4.5.3.2.5, .6)
    Other,      // EHLO, HELO, STARTTLS, AUTH, RSET, a command, QUIT
};

// The outcome of one message; per recipient, per RFC 5321 3.3.
struct MailResult {
    ServerReply mail;                // reply to MAIL FROM
    std::vector<ServerReply> rcpt;   // one per recipient, in order; code 0 if never sent
    ServerReply data;                // refusal of DATA, or the end-of-data (or BDAT LAST) reply
    bool chunked = false;            // BDAT ... LAST was sent: the body went as one chunk
                                     // (RFC 3030), not after DATA
    bool delivered() const noexcept { return data.code >= 200 && data.code < 300; }
    bool accepted(std::size_t i) const noexcept {
        return delivered() && i < rcpt.size() && rcpt[i].code >= 200 && rcpt[i].code < 300;
    }
};

class ClientSession {
public:
    explicit ClientSession(ClientOptions options);

    // Reads server bytes; returns how many were consumed (whole lines; the caller keeps
    // and re-feeds the rest). In NeedTls everything is consumed and dropped: bytes the
    // server sent before the handshake must never be read as a reply (RFC 3207 4.2).
    // Stops after a reply that leaves Busy, so that the caller can act first; in Ready,
    // bytes the server sends unasked are an error (UnexpectedReply).
    std::size_t feed(std::span<const char> in) noexcept;
    // Bytes to write to the server; the caller writes them and clears the string.
    std::string& output() noexcept { return out_; }

    ClientState state() const noexcept { return state_; }
    Awaiting awaiting() const noexcept;
    ClientError error() const noexcept { return error_; }
    const ServerReply& last_reply() const noexcept { return last_; }
    const Extensions& extensions() const noexcept { return ext_; }
    bool tls_active() const noexcept { return tls_; }

    void tls_started() noexcept;  // after the handshake: EHLO again (RFC 3207 4.2)
    void connection_closed() noexcept;

    // One message. `body` is the MIME message; line ends are normalised here, and dots
    // stuffed unless it goes with BDAT. `body` need not outlive the call. In Ready; the
    // state returns to Ready (result()) or goes to Failed.
    ClientError send_mail(std::string_view from, std::span<const std::string> recipients,
                          std::string_view body);
    // The same, for a caller that reads bodies into a buffer of its own: a body that can go
    // after DATA as it is (CRLF lines, none starting with a dot) is taken without a copy,
    // and `body` gets a spare buffer (empty) back. Otherwise `body` is left as it was.
    ClientError send_mail_taking(std::string_view from, std::span<const std::string> recipients,
                                 std::string& body);
    const MailResult& result() const noexcept { return result_; }
    // One raw command line (without CRLF); its reply is last_reply() once Ready again.
    ClientError command(std::string_view line);
    void quit();

private:
    ClientError start_mail(std::string_view from, std::span<const std::string> recipients, std::string_view body,
                           std::string* owned);
    enum class Phase : std::uint8_t {
        Greeting, Ehlo, Helo, StartTls, TlsHandshake, AuthPlain, AuthLoginUser, AuthLoginPass,
        Ready, Transaction, Command, Quit, Done,
    };
    enum class Pending : std::uint8_t { Rset, Mail, Rcpt, Data, EndOfData, Bdat };

    void on_reply(ServerReply&& reply);
    void on_greeting(const ServerReply& r);
    void on_ehlo(const ServerReply& r);
    void on_helo(const ServerReply& r);
    void on_starttls(const ServerReply& r);
    void on_auth(const ServerReply& r);
    void on_transaction(ServerReply&& r);
    void after_hello();
    void start_auth();
    void send_ehlo();
    void next_unpipelined();
    void finish_transaction();
    bool any_rcpt_accepted() const noexcept;
    void fail(ClientError e) noexcept;
    void put(std::string_view line);

    ClientOptions opt_;
    ReplyReader reader_;
    std::string out_;
    Phase phase_ = Phase::Greeting;
    ClientState state_ = ClientState::Busy;
    ClientError error_ = ClientError::None;
    ServerReply last_;
    Extensions ext_;
    bool tls_ = false;
    bool authenticated_ = false;
    bool need_rset_ = false;
    bool bdat_ = false;               // this message goes with BDAT

    // The transaction in flight.
    std::deque<Pending> pending_;     // replies due, in order
    std::string mail_cmd_;
    std::vector<std::string> rcpt_cmds_;
    std::size_t rcpt_sent_ = 0, rcpt_replied_ = 0;
    // What goes after DATA's 354 (stuffed, ends with ".\r\n"), or the whole BDAT command
    // and chunk while RCPT replies are awaited without PIPELINING; else empty.
    std::string body_;
    static constexpr std::size_t kKeptBody = 1 << 20;
    MailResult result_;
};

// The body as it goes after DATA's 354 (RFC 5321 4.5.2): CRLF, lone CR and lone LF all
// become CRLF, a line starting with "." gets a second one, a final CRLF is added if
// missing, and "." CRLF ends it. Nothing else can end the data early.
std::string stuff_body(std::string_view body);
void append_stuffed_body(std::string& out, std::string_view body);  // the same, onto `out`

// The body as it goes in a BDAT chunk (RFC 3030 2): line ends normalised as stuff_body
// does (CRLF, lone CR and lone LF become CRLF; a final CRLF is added to a body that does
// not end with a line end), and nothing else: no dot-stuffing, no terminator, since the
// chunk's length frames it. crlf_body_size is its size; a body that is already all-CRLF
// has its own size and is appended in one copy.
std::size_t crlf_body_size(std::string_view body) noexcept;
void append_crlf_body(std::string& out, std::string_view body);

}  // namespace ringmail::proto
