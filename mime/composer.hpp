// mime/composer.hpp — builds a MIME message (RFC 5322, RFC 2045-2049) from a mail
// object's parts: text only → text/plain; HTML only → text/html; both →
// multipart/alternative; HTML with cid: images → multipart/related; attachments →
// multipart/mixed around that (and around ready parts). Pure: the caller supplies Date and
// Message-ID and the boundary seed, and reads files. Lines never exceed 998 octets; only
// CRLF line ends.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringmail::mime {

// A file for the message: an attachment, or an image the HTML shows (RFC 2387 related part).
struct ComposeFile {
    std::string name;          // file name (Content-Type name=, Content-Disposition filename=)
    std::string data;          // bytes, sent unchanged (base64, or as is when clean 7bit text)
    std::string content_type;  // empty: guess_type(name)
    bool is_inline = false;    // an HTML image: inline in multipart/related, Content-ID <name>
                               // (an attachment only when there is no HTML body)
    // An inline image's address in the HTML (e.g. the path it was read from): every src
    // attribute whose value is exactly this becomes "cid:NAME". Empty: the HTML names it
    // as cid:NAME itself.
    std::string source;
};

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

    std::vector<ComposeFile> files;  // after `attachments`, in this order
    // Ready MIME entities (header fields, a blank line, the body; CRLF line ends), placed
    // in the multipart/mixed after the body and files without any change.
    std::vector<std::string> parts;
    // The text bodies' charset. Empty or UTF-8: UTF-8. Otherwise the text is converted from
    // UTF-8 (mime/charset.hpp from_utf8); if that charset cannot hold it, UTF-8 stays. Header
    // fields are RFC 2047 UTF-8 words in any case.
    std::string charset;
    // The text bodies' Content-Transfer-Encoding: "7bit", "8bit", "quoted-printable" or
    // "base64" (any case). Empty: 7bit when the text allows it, else quoted-printable. A
    // 7bit or 8bit text that is not valid as such (8-bit octets, or lines over 76 for 7bit /
    // 998 for 8bit) goes out quoted-printable instead.
    std::string transfer_encoding;
    // Replaces the media type of the text body ("text/plain"; with only an HTML body,
    // "text/html"), e.g. "text/calendar; method=REQUEST"; a text/* type without a charset
    // parameter gets ours.
    std::string content_type;
    // "Simple form": the header fields and nothing else: no MIME fields, an empty body.
    bool headers_only = false;
    // A part, not a message: only the body entity (its Content-* fields, a blank line, its
    // body), for a ready part of another message. Header fields above are ignored.
    bool entity_only = false;
};

std::string compose(const ComposeInput& in);
// Content-Type for a file name from its extension ("application/octet-stream" if unknown).
std::string guess_type(std::string_view file_name);

}  // namespace ringmail::mime
