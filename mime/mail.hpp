// mime/mail.hpp — the mail object handed to on_mail (and, later, to send()).
// It owns all its bytes because it crosses from a reactor to a handler thread; it is
// move-only so that the body, copied once into `original`, is never copied again.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace ringmail {

struct Mail {
    std::string host;                     // the client's EHLO/HELO name
    std::string from, to, cc, bcc;        // header values, raw (not canonical)
    std::string user;                     // authenticated name, empty if none
    std::string sender;                   // bare envelope sender, empty for <>
    std::vector<std::string> recipients;  // bare envelope recipients that on_rcpt accepted
    std::string subject;
    std::string message;                  // HTML body, else text (filled by the MIME parser)
    std::map<std::string, std::string> attachments;
    std::string ip;                       // the client's address
    std::string tls;                      // "TLSv1.3 TLS_AES_256_GCM_SHA384"; empty: plaintext
    std::string original;                 // the message as received, dot-unstuffed

    Mail() = default;
    Mail(Mail&&) noexcept = default;
    Mail& operator=(Mail&&) noexcept = default;
    Mail(const Mail&) = delete;
    Mail& operator=(const Mail&) = delete;
};

}  // namespace ringmail
