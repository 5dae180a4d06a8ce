// http/inject.hpp — POST /api/inject/v1: KumoMTA's injection request (a subset) made into
// the messages to queue. No I/O: a JSON text in, envelopes and RFC 5322 texts out (Date,
// Message-ID and boundaries come from api/EmailCompose). Any bad field refuses the whole
// request, with the field's path in the error ("recipients[2].email: not an address: ...").
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::http {

struct InjectLimits {
    std::uint64_t max_message_size = 8 * 1024 * 1024;  // each message ([relay] max_message_size); 0: none
    // All the messages of one request: they are held in memory until their one commit.
    std::uint64_t max_total_size = 128 * 1024 * 1024;
};

struct InjectMessage {
    std::string sender;                   // bare envelope sender; empty: the null sender <>
    std::vector<std::string> recipients;  // bare addresses
    std::string data;                     // the message
};

enum class InjectError : std::uint8_t { None, BadRequest, TooBig };

struct InjectParse {
    std::vector<InjectMessage> messages;  // in the order of the request's recipients
    std::size_t recipients = 0;           // every recipient of every message
    InjectError error = InjectError::None;
    std::string detail;                   // what is wrong, starting with the field's path
};

// Request fields: envelope_sender (an address, or "" for <>); content: a whole RFC 5322
// message as a string, or an object {subject, from:{email,name}, reply_to:{email,name},
// text_body, html_body, headers:{name:value}, attachments:[{data, base64, content_type,
// file_name, content_id}]} (an attachment with a content_id is an inline part of a
// multipart/related, shown by the HTML as cid:ID); recipients:[{email, name,
// substitutions:{...}}]; substitutions:{...} for everyone (a recipient's own win).
// Substitutions fill "{{ name }}" and "#name#" in the string content, or in the subject,
// bodies and header values of the object content.
// Messages: an object content makes one message per recipient (To: that recipient), so no
// recipient sees the others; a string content is sent as it is, one message to all
// recipients, unless substitutions are given: then one per recipient. Other fields of
// KumoMTA's format (template_dialect, deferred_generation, ...) are ignored.
InjectParse parse_inject(std::string_view json, const InjectLimits& limits = {});

}  // namespace ringmail::http
