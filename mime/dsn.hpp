// mime/dsn.hpp — delivery status notifications (bounces): RFC 3464 message/delivery-status
// inside an RFC 6522 multipart/report, with a human-readable part first and the original
// message's header section last (text/rfc822-headers: the body is not sent back). Pure:
// the caller supplies the date, the Message-ID and the boundary seed.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::mime {

struct DsnRecipient {
    std::string address;     // the recipient as it was given (Final-Recipient)
    bool failed = true;      // Action: failed; false: delayed (a warning, still queued)
    std::string reply;       // the remote server's reply ("550 5.1.1 No such user"), or
                             // empty when no server answered (then `reason` says why)
    std::string reason;      // our own words when there is no reply (no MX, null MX, ...)
    std::string status;      // RFC 3463 code; empty: taken from the reply, else 5.0.0 / 4.0.0
    std::string remote_mta;  // the host that answered, if any
};

struct DsnInput {
    std::string reporting_mta;   // our host name
    std::string to;              // the original envelope sender (the bounce's recipient)
    std::string arrival_date;    // RFC 5322 date the original arrived (may be empty)
    std::vector<DsnRecipient> recipients;
    std::string_view original;   // the original message; only its header section is used
    std::string date;            // RFC 5322 date of this report
    std::string message_id;      // without <>
    std::string boundary_seed;
};

// The whole report message, CRLF line ends, lines within 998 octets.
std::string compose_dsn(const DsnInput& in);
// The RFC 3463 status in a reply text ("550 5.1.1 ..." → "5.1.1"), else the reply class's
// default ("5.0.0", "4.0.0"); "" for a reply without a code.
std::string dsn_status(std::string_view reply);

}  // namespace ringmail::mime
