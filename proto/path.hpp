// proto/path.hpp — MAIL FROM / RCPT TO argument parsing: RFC 5321 4.1.2 paths and
// ESMTP parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8).
// Pure; views point into the command line and live as long as it does.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/reply.hpp"

namespace ringmail::proto {

struct PathParse {
    std::string_view address;   // bare mailbox without <> and source route; empty for <>
    std::string_view params;    // the rest of the line after '>'
    bool non_ascii = false;     // address has octets >= 0x80
    Error error = Error::None;
};

// `arg` starts just after "FROM:" or "TO:" (spaces allowed before '<').
// `is_rcpt` allows <postmaster> without a domain (RFC 5321 4.5.1).
PathParse parse_path(std::string_view arg, bool is_rcpt) noexcept;

// An address given bare (the command line's --to, the HTTP API's "email"), checked as the
// path "<text>" above with no parameters: the mailbox a server would be sent, or none when
// it is not one. The empty text is the null sender (for !is_rcpt).
std::optional<std::string> bare_address(std::string_view text, bool is_rcpt);

struct MailParams {
    std::uint64_t size = 0;     // SIZE=, 0 when absent
    bool smtputf8 = false;
    Error error = Error::None;
};

MailParams parse_mail_params(std::string_view params) noexcept;
Error check_rcpt_params(std::string_view params) noexcept;

}  // namespace ringmail::proto
