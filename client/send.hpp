// client/send.hpp — `ringmail::send`: one mail object (engine/mail.hpp) to one server, as
// the original scripting module's send(mail, password, host, port, mode) did; a vector of
// mails goes over one connection with RSET between. The MIME comes from mime::compose,
// with Date and Message-ID made here.
#pragma once
#include <string>
#include <vector>

#include "mime/mail.hpp"
#include "client/smtp_client.hpp"

namespace ringmail {

struct SendOptions {
    int timeout_s = 60;       // bounds every wait for the server
    bool verify = true;       // certificate check against the system store and the host name
    std::string ca_file;      // trust these CAs instead of the system store
};

// mode: 0 plain, 1 STARTTLS (fails if not offered), 2 implicit TLS. AUTH (PLAIN, else
// LOGIN) with mail.user when `password` is not empty; mail.host (default "localhost") is
// the EHLO name; mail.sender and mail.recipients are the envelope.
smtp::SendResult send(const Mail& mail, const std::string& password, const std::string& host, int port = 25,
                      int mode = 0, const SendOptions& options = {});
// Many mails, one connection: the result of each, in order. A connection failure marks
// the mails not yet sent with the same error.
std::vector<smtp::SendResult> send(const std::vector<Mail>& mails, const std::string& password,
                                   const std::string& host, int port = 25, int mode = 0,
                                   const SendOptions& options = {});

// The MIME message send() writes for `mail`: From/To/Cc/Subject, mail.message as HTML,
// the attachments (cid: references inline), a fresh Date and Message-ID. Bcc stays out.
std::string compose_mail(const Mail& mail);
// Fresh header values for a message made now: an RFC 5322 3.3 date in local time, and a
// Message-ID (without <>) of random hex at `domain`.
std::string message_date();
std::string new_message_id(const std::string& domain);
std::string random_hex(std::size_t bytes);

}  // namespace ringmail
