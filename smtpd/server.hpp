// smtpd/server.hpp — the public server API of the original module: set the handlers with
// use(), then run() until SIGINT or SIGTERM.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "base/metrics.hpp"
#include "config/config.hpp"
#include "smtpd/handlers.hpp"
#include "mime/mail.hpp"

namespace ringmail::server {

// Sets the handlers; an empty one keeps its default: on_mail runs the config's `handler`
// (print, discard or maildir:DIR), on_rcpt accepts every recipient, on_auth every login.
// `parts`: whether on_mail reads Mail::message and attachments (mime = auto parses only then).
void use(OnMail on_mail, OnRcpt on_rcpt = {}, OnAuth on_auth = {}, MailParts parts = MailParts::Split);

// Something that runs beside a server whose handler is `queue`: the HTTP API (http/; tools/
// adds it, so that smtpd/ knows no HTTP). Made before the start banner, so that a setting
// or a port it cannot use stops the start (exit status 2); started once the relay runs;
// destroyed, which stops it, at shutdown before the relay stops.
class QueueService {
public:
    virtual ~QueueService() = default;
    virtual std::string banner() const = 0;  // its line of the start banner, without "ringmail: "
    virtual void start() = 0;
};
// `poke` tells the relay of this process that messages are due now (from any thread);
// `stats` sums the reactors' and the relay's counters now (from any thread, lock-free; valid
// while the service lives).
using QueueServiceFactory = std::function<std::unique_ptr<QueueService>(
    const Config& config, std::function<void()> poke, std::function<metrics::Snapshot()> stats)>;
void add_queue_service(QueueServiceFactory make);

// Runs the server; returns 0 after a clean SIGINT/SIGTERM shutdown and 2 after a
// configuration or start-up error (one line on stderr names it).
int run(const Config& config);
// What run() checks before it listens, without listening: the settings, the certificate
// and key, the auth_users file, the Maildir. Throws std::runtime_error naming the problem.
void check(const Config& config);
// The same with the settings of an INI file, written with the defaults when missing.
int run(const std::string& config_path = "mail.ini");

}  // namespace ringmail::server
