// mime/parsed_mail.hpp — what the MIME parser makes of a message: the header fields the
// mail object carries, the body to show (`message`) and the attachments.
#pragma once
#include <map>
#include <optional>
#include <string>

namespace ringmail::mime {

struct Attachment {
    std::string data;        // decoded bytes
    std::string type;        // "image/png"
    std::string content_id;  // without <>, empty if none
};

struct ParsedMail {
    std::optional<std::string> from, to, cc, bcc, subject;  // decoded to UTF-8; nullopt if absent
    std::string message;        // the HTML body, else the text body, as UTF-8
    bool message_is_html = false;
    std::map<std::string, Attachment> attachments;  // by file name
};

}  // namespace ringmail::mime
