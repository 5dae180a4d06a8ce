// smtpd/server.hpp — the public server API of the original module: set the handlers with
// use(), then run() until SIGINT or SIGTERM.
#pragma once
#include <string>

#include "config/config.hpp"
#include "smtpd/handlers.hpp"
#include "mime/mail.hpp"

namespace ringmail::server {

// Sets the handlers; an empty one keeps its default: on_mail runs the config's `handler`
// (print, discard or maildir:DIR), on_rcpt accepts every recipient, on_auth every login.
void use(OnMail on_mail, OnRcpt on_rcpt = {}, OnAuth on_auth = {});

// Runs the server; returns 0 after a clean SIGINT/SIGTERM shutdown and 2 after a
// configuration or start-up error (one line on stderr names it).
int run(const Config& config);
// What run() checks before it listens, without listening: the settings, the certificate
// and key, the auth_users file, the Maildir. Throws std::runtime_error naming the problem.
void check(const Config& config);
// The same with the settings of an INI file, written with the defaults when missing.
int run(const std::string& config_path = "mail.ini");

}  // namespace ringmail::server
