// proto/limits.hpp — every bound the SMTP server state machine enforces, in one place.
// Defaults come from RFC 5321 4.5.3 (sizes) and 4.5.3.2 (timeouts); each has its own reply.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ringmail::proto {

// Milliseconds on a monotonic clock. proto never reads a clock: the engine passes `now` in.
using Timestamp = std::uint64_t;

struct Limits {
    std::size_t max_command_line = 512;     // RFC 5321 4.5.3.1.4, CRLF included
    std::size_t max_text_line = 1000;       // RFC 5321 4.5.3.1.6, CRLF included
    std::size_t max_auth_line = 12288;      // RFC 4954 4: SASL responses may exceed 512
    std::uint64_t max_message_size = 10u << 20;  // advertised in EHLO SIZE (RFC 1870)
    std::size_t max_recipients = 1000;      // RFC 5321 4.5.3.1.8 asks for at least 100
    // RCPTs past max_recipients in one transaction get 452 without counting as errors, up
    // to this many (Postfix's smtpd_recipient_overshoot_limit): a client that pipelines
    // its whole list keeps its session and sends the rest later (RFC 5321 4.5.3.1.10).
    std::size_t max_recipient_overshoot = 1000;
    unsigned max_errors = 20;               // then 421 and close, as Postfix's hard limit
    // Failed logins per session, then 421 and close. Never forgiven by an accepted
    // message (errors are): interleaving mail must not buy more password guesses.
    unsigned max_auth_failures = 3;
    // NOOP, RSET, VRFY, HELP, HELO, EHLO past this many count as errors, as Postfix's
    // smtpd_junk_command_limit: a client cannot hold a session open with them forever.
    unsigned max_junk_commands = 100;
    std::uint32_t command_timeout_ms = 300'000;  // RFC 5321 4.5.3.2.7: server timeout 5 min
    std::uint32_t data_timeout_ms = 300'000;     // waiting for the next DATA block
};

// What the session offers; the engine knows whether TLS or AUTH may be used.
struct Features {
    bool auth = true;       // advertise and accept AUTH PLAIN / LOGIN
    bool starttls = false;  // advertise STARTTLS (needs a certificate)
    // RFC 4954 4 and 6: AUTH only once the connection is encrypted (538 before). The
    // engine sets it per connection: its policy is on and the peer is not loopback.
    bool auth_requires_tls = false;
};

}  // namespace ringmail::proto
