// smtpd/print_handler.hpp — the default on_mail: prints each mail object to stdout.
#pragma once
#include "smtpd/handlers.hpp"

namespace ringmail::smtpd {

Verdict print_mail(const Mail& mail);

}  // namespace ringmail::smtpd
