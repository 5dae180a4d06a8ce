// engine/mail_builder.hpp — turns a finished SMTP transaction into the mail object:
// the envelope moves in (the body becomes `original` without a copy) and the header
// fields are read from it.
#pragma once
#include <string>

#include "engine/mail.hpp"
#include "proto/server_session.hpp"

namespace ringmail::engine {

Mail make_mail(proto::Envelope&& env, const std::string& ip);

}  // namespace ringmail::engine
