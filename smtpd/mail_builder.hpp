// smtpd/mail_builder.hpp — turns a finished SMTP transaction into the mail object:
// the envelope moves in (the body becomes `original` without a copy) and the header
// fields are read from it.
#pragma once
#include <string>

#include "mime/mail.hpp"
#include "mime/parsed_mail.hpp"
#include "proto/server_session.hpp"

namespace ringmail::smtpd {

// `parsed`: what the MIME parser made of the body, or nullptr when MIME parsing is off
// (then the header fields are taken raw).
Mail make_mail(proto::Envelope&& env, const std::string& ip, mime::ParsedMail* parsed);

}  // namespace ringmail::smtpd
