// proto/reply.hpp — every error the server state machine can answer with, and its reply.
// Codes and enhanced status codes from RFC 5321 4.2, RFC 3463 and RFC 4954 6.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::proto {

enum class Error : std::uint8_t {
    None,
    LineTooLong,          // command line over the limit
    Unrecognized,         // unknown verb
    NotImplemented,       // a verb we know but do not offer
    SyntaxArgs,           // bad or missing arguments
    NeedHelo,             // MAIL/AUTH before EHLO/HELO
    NestedMail,           // MAIL inside a transaction
    NeedMail,             // RCPT/DATA without MAIL
    NoValidRecipients,    // DATA when every RCPT failed
    BadSender,            // MAIL FROM path syntax
    BadRecipient,         // RCPT TO path syntax
    NonAsciiAddress,      // UTF-8 address without SMTPUTF8 (RFC 6531 3.5)
    UnknownParameter,     // MAIL/RCPT parameter we do not support
    TooManyRecipients,
    SizeDeclaredTooBig,   // SIZE= in MAIL above our limit (RFC 1870 6)
    MessageTooBig,
    TextLineTooLong,      // a DATA line over 1000 octets
    BareLineEnding,       // bare CR or LF in message data (SMTP smuggling)
    DataAfterBdat,        // DATA mixed with BDAT in one transaction (RFC 3030 2)
    BdatNoTransaction,    // BDAT without MAIL and RCPT
    AuthAlready,
    AuthInTransaction,
    AuthMechanism,
    AuthCancelled,
    AuthBadBase64,
    AuthNulInCredentials,  // a NUL would cut the name or password short further on
    AuthLineTooLong,      // SASL response over max_auth_line (RFC 4954 4)
    EncryptionRequired,   // AUTH on a plaintext connection when policy needs TLS (RFC 4954 6)
    TlsAlreadyActive,     // a second STARTTLS (RFC 3207 4.2)
    TlsInTransaction,     // STARTTLS between MAIL and the end of the message
    TooManyErrors,
    TooManyAuthFailures,
    Timeout,
    ShuttingDown,
    InsufficientStorage,  // the server's budget for message bodies is spent (RFC 1870 6.1)
};

struct ReplyInfo {
    Error error;
    std::uint16_t code;
    std::string_view status;  // RFC 3463 enhanced status code
    std::string_view text;
};

inline constexpr ReplyInfo reply_for[] = {
    {Error::None,               250, "2.0.0", "OK"},
    {Error::LineTooLong,        500, "5.5.2", "Line too long"},
    {Error::Unrecognized,       500, "5.5.2", "Command unrecognized"},
    {Error::NotImplemented,     502, "5.5.1", "Command not implemented"},
    {Error::SyntaxArgs,         501, "5.5.4", "Syntax error in parameters or arguments"},
    {Error::NeedHelo,           503, "5.5.1", "Send EHLO or HELO first"},
    {Error::NestedMail,         503, "5.5.1", "Nested MAIL command"},
    {Error::NeedMail,           503, "5.5.1", "Need MAIL and RCPT first"},
    {Error::NoValidRecipients,  554, "5.5.1", "No valid recipients"},
    {Error::BadSender,          501, "5.1.7", "Bad sender address syntax"},
    {Error::BadRecipient,       501, "5.1.3", "Bad recipient address syntax"},
    {Error::NonAsciiAddress,    553, "5.6.7", "Non-ASCII address needs SMTPUTF8"},
    {Error::UnknownParameter,   555, "5.5.4", "Unsupported MAIL or RCPT parameter"},
    {Error::TooManyRecipients,  452, "4.5.3", "Too many recipients"},
    {Error::SizeDeclaredTooBig, 552, "5.3.4", "Message size exceeds fixed maximum message size"},
    {Error::MessageTooBig,      552, "5.3.4", "Message too big for system"},
    {Error::TextLineTooLong,    500, "5.5.6", "Message line too long"},
    {Error::BareLineEnding,     550, "5.6.0", "Bare CR or LF in message data is not allowed"},
    {Error::DataAfterBdat,      503, "5.5.1", "DATA not allowed after BDAT"},
    {Error::BdatNoTransaction,  503, "5.5.1", "Need MAIL and RCPT before BDAT"},
    {Error::AuthAlready,        503, "5.5.1", "Already authenticated"},
    {Error::AuthInTransaction,  503, "5.5.1", "AUTH not allowed during a mail transaction"},
    {Error::AuthMechanism,      504, "5.5.4", "Unrecognized authentication mechanism"},
    {Error::AuthCancelled,      501, "5.7.0", "Authentication cancelled"},
    {Error::AuthBadBase64,      501, "5.5.2", "Cannot decode response"},
    {Error::AuthNulInCredentials, 501, "5.5.2", "NUL not allowed in user name or password"},
    {Error::AuthLineTooLong,    500, "5.5.6", "Authentication exchange line is too long"},
    {Error::EncryptionRequired, 538, "5.7.11", "Encryption required for requested authentication mechanism"},
    {Error::TlsAlreadyActive,   554, "5.5.1", "TLS already active"},
    {Error::TlsInTransaction,   503, "5.5.1", "STARTTLS not allowed during a mail transaction"},
    {Error::TooManyErrors,      421, "4.7.0", "Too many errors, closing connection"},
    {Error::TooManyAuthFailures, 421, "4.7.0", "Too many failed authentication attempts, closing connection"},
    {Error::Timeout,            421, "4.4.2", "Timeout, closing connection"},
    {Error::ShuttingDown,       421, "4.3.2", "Service shutting down, closing connection"},
    {Error::InsufficientStorage, 452, "4.3.1", "Insufficient system storage, try again later"},
};

constexpr const ReplyInfo& info(Error e) noexcept {
    return reply_for[static_cast<std::size_t>(e)];
}

// Appends one reply line "CODE X.Y.Z text\r\n"; `more` makes it a continuation ("CODE-").
// CR, LF and other control bytes in `text` (it may come from a handler) become spaces.
void append_reply(std::string& out, unsigned code, std::string_view status,
                  std::string_view text, bool more = false);

inline void append_reply(std::string& out, Error e) {
    const auto& r = info(e);
    append_reply(out, r.code, r.status, r.text);
}

}  // namespace ringmail::proto
