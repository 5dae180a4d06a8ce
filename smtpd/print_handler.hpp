// smtpd/print_handler.hpp — the default on_mail: prints each mail object to stdout.
#pragma once
#include "smtpd/handlers.hpp"

namespace ringmail::smtpd {

Verdict print_mail(const Mail& mail);
// `in` with control bytes (but tab and line feed), DEL and C1 controls escaped as \xNN /
// \u00NN, CRLF as LF, and a line starting "--- " escaped so it cannot pose as a separator.
std::string printable(std::string_view in);

}  // namespace ringmail::smtpd
