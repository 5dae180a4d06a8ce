// client/send.cpp — send() of the library: compose, open, one transaction per mail, QUIT.
// Date (RFC 5322 3.3) and Message-ID (3.6.4) need the clock and randomness, so they are
// made here and not in the pure composer.
#include "client/send.hpp"

#include <openssl/rand.h>
#include <unistd.h>

#include <ctime>

#include "base/ascii.hpp"
#include "base/date.hpp"
#include "mime/composer.hpp"

namespace ringmail {

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> b(bytes);
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
        const auto t = static_cast<unsigned long>(std::time(nullptr)) ^ static_cast<unsigned long>(::getpid());
        for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(t >> (8 * (i % 8)));
    }
    return base::hex_encode({reinterpret_cast<const char*>(b.data()), b.size()});
}

std::string message_date() { return base::rfc5322_date(std::time(nullptr)); }

std::string new_message_id(const std::string& domain) {
    return random_hex(12) + "@" + (domain.empty() ? "localhost" : domain);
}

namespace {

std::string ehlo_name(const Mail& m) { return m.host.empty() ? "localhost" : m.host; }

}  // namespace

std::string compose_mail(const Mail& mail) {
    mime::ComposeInput in;
    in.from = mail.from;
    in.to = mail.to;
    in.cc = mail.cc;
    in.subject = mail.subject;
    in.html = mail.message;
    in.attachments = mail.attachments;
    in.date = message_date();
    const std::string domain = mail.sender.find('@') != std::string::npos
                                   ? mail.sender.substr(mail.sender.rfind('@') + 1)
                                   : ehlo_name(mail);
    in.message_id = new_message_id(domain);
    in.boundary_seed = random_hex(8);
    return mime::compose(in);
}

std::vector<smtp::SendResult> send(const std::vector<Mail>& mails, const std::string& password,
                                   const std::string& host, int port, int mode, const SendOptions& options) {
    std::vector<smtp::SendResult> results;
    if (mails.empty()) return results;
    if (mode < 0 || mode > 2) {
        smtp::SendResult r;
        r.kind = smtp::ErrorKind::Usage;
        r.error = "mode must be 0 (plain), 1 (STARTTLS) or 2 (implicit TLS)";
        return std::vector<smtp::SendResult>(mails.size(), r);
    }
    smtp::Options o;
    o.ehlo_name = ehlo_name(mails.front());
    o.verify = options.verify;
    o.ca_file = options.ca_file;
    smtp::Client client;
    const bool up = client.open(host.empty() ? "localhost" : host, port, static_cast<smtp::Mode>(mode),
                                options.timeout_s, mails.front().user, password, o);
    for (const Mail& m : mails) {
        if (!up || !client.is_open()) {
            // Not sent: every recipient carries the connection's error.
            smtp::SendResult r;
            r.kind = client.error_kind() == smtp::ErrorKind::None ? smtp::ErrorKind::Closed : client.error_kind();
            r.error = client.error().empty() ? "connection closed" : client.error();
            for (const auto& a : m.recipients) r.recipients.push_back({a, false, r.error});
            results.push_back(std::move(r));
            continue;
        }
        results.push_back(client.send(m.sender, m.recipients, compose_mail(m)));
    }
    client.close();
    return results;
}

smtp::SendResult send(const Mail& mail, const std::string& password, const std::string& host, int port, int mode,
                      const SendOptions& options) {
    // Mail is move-only; a one-element batch would need a copy, so this builds the batch
    // path's steps directly.
    if (mode < 0 || mode > 2) {
        smtp::SendResult r;
        r.kind = smtp::ErrorKind::Usage;
        r.error = "mode must be 0 (plain), 1 (STARTTLS) or 2 (implicit TLS)";
        return r;
    }
    smtp::Options o;
    o.ehlo_name = ehlo_name(mail);
    o.verify = options.verify;
    o.ca_file = options.ca_file;
    smtp::Client client;
    smtp::SendResult r;
    if (!client.open(host.empty() ? "localhost" : host, port, static_cast<smtp::Mode>(mode), options.timeout_s,
                     mail.user, password, o)) {
        r.kind = client.error_kind();
        r.error = client.error();
        for (const auto& a : mail.recipients) r.recipients.push_back({a, false, r.error});
        return r;
    }
    r = client.send(mail.sender, mail.recipients, compose_mail(mail));
    client.close();
    return r;
}

}  // namespace ringmail
