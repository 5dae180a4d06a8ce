// tools/cmd_send.cpp — `ringmail send`: composes a message from flags (or takes a ready
// MIME file with --raw) and delivers it with smtp::Client. The password only ever comes
// from a file, never from the command line (where `ps` shows it to every user).
// Exit status: 0 every recipient accepted, 1 some or all refused, 2 usage, connection,
// TLS or AUTH errors.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "client/send.hpp"
#include "client/smtp_client.hpp"
#include "mime/address_list.hpp"
#include "mime/composer.hpp"
#include "tools/commands.hpp"

namespace ringmail::tools {
namespace {

std::string read_password(const std::string& path) {
    std::string p = read_file(path);
    const auto nl = p.find_first_of("\r\n");
    if (nl != std::string::npos) p.resize(nl);  // the first line; a final newline is not part of it
    return p;
}

std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

struct Args {
    std::string from, to, cc, bcc, subject, html, text, raw, host = "localhost", tls = "none", user,
        password_file, ehlo = "localhost", cafile;
    int port = 25, timeout = 60;
    bool insecure = false;
    std::vector<std::string> rcpt, attach, inline_images, headers;
};

int run_send(const Args& a) {
    if (a.html == "-" && a.password_file == "-") throw std::runtime_error("--html - and --password-file - cannot both read stdin");
    smtp::Mode mode = smtp::Mode::Plain;
    if (a.tls == "starttls") mode = smtp::Mode::StartTls;
    else if (a.tls == "smtps") mode = smtp::Mode::Tls;
    else if (a.tls != "none") throw std::runtime_error("--tls must be none, starttls or smtps");

    const auto senders = mime::extract_addresses(a.from);
    if (senders.empty()) throw std::runtime_error("--from holds no address");
    std::vector<std::string> rcpt = a.rcpt;
    if (rcpt.empty()) {
        for (const auto* h : {&a.to, &a.cc, &a.bcc})
            for (auto& r : mime::extract_addresses(*h)) rcpt.push_back(std::move(r));
    }
    if (rcpt.empty()) throw std::runtime_error("no recipients: give --to, --cc, --bcc or --rcpt");

    std::string message;
    if (!a.raw.empty()) {
        message = read_file(a.raw);
    } else {
        mime::ComposeInput in;
        in.from = a.from;
        in.to = a.to;
        in.cc = a.cc;  // Bcc is envelope only
        in.subject = a.subject;
        if (!a.html.empty()) in.html = read_file(a.html);
        if (!a.text.empty()) in.text = read_file(a.text);
        for (const auto& f : a.attach) in.attachments[file_name(f)] = read_file(f);
        for (const auto& f : a.inline_images) in.attachments[file_name(f)] = read_file(f);
        for (const auto& h : a.headers) {
            const auto colon = h.find(':');
            if (colon == std::string::npos || colon == 0) throw std::runtime_error("bad --header '" + h + "' (expected 'Name: value')");
            std::string value = h.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            in.extra_headers.emplace_back(h.substr(0, colon), value);
        }
        in.date = message_date();
        in.message_id = new_message_id(senders[0].substr(senders[0].rfind('@') + 1));
        in.boundary_seed = random_hex(8);
        message = mime::compose(in);
    }
    const std::string password = a.password_file.empty() ? std::string() : read_password(a.password_file);
    if (!password.empty() && a.user.empty()) throw std::runtime_error("--password-file needs --user");

    smtp::Options o;
    o.ehlo_name = a.ehlo;
    o.verify = !a.insecure;
    o.ca_file = a.cafile;
    smtp::Client client;
    if (!client.open(a.host, a.port, mode, a.timeout, a.user, password, o)) {
        std::fprintf(stderr, "ringmail send: %s\n", client.error().c_str());
        return 2;
    }
    const smtp::SendResult r = client.send(senders[0], rcpt, message);
    client.close();
    for (const auto& x : r.recipients)
        std::printf("%s: %s (%s)\n", x.address.c_str(), x.accepted ? "accepted" : "refused", x.reply.c_str());
    if (r.ok()) return 0;
    std::fprintf(stderr, "ringmail send: %s\n", r.error.c_str());
    return r.kind == smtp::ErrorKind::Refused ? 1 : 2;
}

}  // namespace

void add_send(CLI::App& app, int& status) {
    static Args a;
    CLI::App* cmd = app.add_subcommand("send", "Send a message to an SMTP server");
    cmd->footer(
        "The envelope sender is the address in --from; the recipients come from --to, --cc and --bcc\n"
        "unless --rcpt is given. The password is read from --password-file (first line), never\n"
        "from the command line. Exit status: 0 every recipient accepted; 1 some or all refused\n"
        "(one line per recipient on stdout); 2 usage, connection, TLS or AUTH error.");
    cmd->add_option("--from", a.from, "From header, e.g. '\"Alice\" <alice@example.com>'")->required();
    cmd->add_option("--to", a.to, "To header");
    cmd->add_option("--cc", a.cc, "Cc header");
    cmd->add_option("--bcc", a.bcc, "Bcc recipients (envelope only, no header)");
    cmd->add_option("--rcpt", a.rcpt, "envelope recipient (repeatable; replaces those from the headers)");
    cmd->add_option("--subject", a.subject, "Subject (UTF-8)");
    cmd->add_option("--html", a.html, "text/html body from FILE, or - for stdin");
    cmd->add_option("--text", a.text, "text/plain body from FILE")->check(CLI::ExistingFile);
    cmd->add_option("--attach", a.attach, "attach a file (repeatable)")->check(CLI::ExistingFile);
    cmd->add_option("--inline", a.inline_images, "an image the HTML shows as cid:FILENAME (repeatable)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--header", a.headers, "extra header 'Name: value' (repeatable)");
    cmd->add_option("--raw", a.raw, "send this ready MIME file instead of composing one")->check(CLI::ExistingFile);
    cmd->add_option("--host", a.host, "SMTP server (default localhost)");
    cmd->add_option("--port", a.port, "port (default 25)")->check(CLI::Range(1, 65535));
    cmd->add_option("--tls", a.tls, "none | starttls (required, fails if not offered) | smtps (implicit TLS)");
    cmd->add_option("--user", a.user, "AUTH user name (AUTH is used when --password-file is given)");
    cmd->add_option("--password-file", a.password_file, "read the AUTH password from the first line of FILE");
    cmd->add_flag("--insecure", a.insecure, "do not verify the server's certificate (tests only)");
    cmd->add_option("--cafile", a.cafile, "trust the CAs in this PEM file instead of the system store")
        ->check(CLI::ExistingFile);
    cmd->add_option("--ehlo", a.ehlo, "our name in EHLO (default localhost)");
    cmd->add_option("--timeout", a.timeout, "seconds to wait for the server at each step (default 60)")
        ->check(CLI::Range(1, 86400));
    cmd->callback([&status] {
        try {
            status = run_send(a);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ringmail send: %s\n", e.what());
            status = 2;
        }
    });
}

}  // namespace ringmail::tools
