// mime/composer.hpp — builds a MIME message (RFC 5322, RFC 2045-2049) from a mail
// object's parts: text only → text/plain; HTML only → text/html; both →
// multipart/alternative; HTML with cid: images → multipart/related; attachments →
// multipart/mixed around that. Pure: the caller supplies Date and Message-ID and the
// boundary seed. Lines never exceed 998 octets; only CRLF line ends.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringmail::mime {

struct ComposeInput {
    std::string from, to, cc, reply_to, sender;  // header values (UTF-8 display names get RFC 2047)
    std::string subject;                         // UTF-8
    std::string text;  // text/plain body, UTF-8; line ends become CRLF, and a CRLF is
                       // added at the end when missing
    std::string html;  // text/html body, UTF-8; same normalisation
    std::map<std::string, std::string> attachments;  // file name → bytes, sent unchanged;
                                                     // names the HTML references as
                                                     // cid:NAME go inline (Content-ID <NAME>)
    // Written after ours; CR/LF in values become spaces. Skipped: invalid field names,
    // MIME-Version and Content-* (they would break the structure), and names of fields
    // this input already fills (From, To, Cc, Reply-To, Sender, Subject, Date, Message-ID).
    std::vector<std::pair<std::string, std::string>> extra_headers;
    std::string date;        // RFC 5322 date-time; required (the field is left out if empty)
    std::string message_id;  // without <>; required (the field is left out if empty)
    std::string boundary_seed;  // makes boundaries unique; e.g. random hex
};

std::string compose(const ComposeInput& in);
// Content-Type for a file name from its extension ("application/octet-stream" if unknown).
std::string guess_type(std::string_view file_name);

}  // namespace ringmail::mime
