// tools/cmd_send.cpp — `ringmail send`: composes a message from flags (or takes a ready
// MIME file with --raw) and delivers it now with smtp::Client, or with --queue puts it in the
// relay's queue (api/email_queue: one durable commit) and prints its id. --merge FILE.csv
// makes one message per row, "#Token#" markers filled from the row (issue 15).
// The password only ever comes from a file, never from the command line (where `ps` shows it
// to every user). Exit status: 0 every recipient accepted (or all queued), 1 some or all
// refused, 2 usage, connection, TLS, AUTH or queue errors.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "api/email_queue.hpp"
#include "client/smtp_client.hpp"
#include "config/config.hpp"
#include "mime/address_list.hpp"
#include "mime/merge.hpp"
#include "proto/path.hpp"
#include "relay/timestamp.hpp"
#include "tools/commands.hpp"

namespace ringmail::tools {
namespace {

std::string read_password(const std::string& path) {
    std::string p = read_file(path);
    const auto nl = p.find_first_of("\r\n");
    if (nl != std::string::npos) p.resize(nl);  // the first line; a final newline is not part of it
    return p;
}

struct Args {
    std::string from, to, cc, bcc, reply_to, subject, html, html_file, text, text_file, raw, host = "localhost",
        tls = "none", user, password_file, ehlo = "localhost", cafile, config, priority, not_before, merge;
    int port = 25, timeout = 60;
    bool insecure = false, queue = false;
    bool host_given = false;  // --host on the command line: with --queue, the message's own smarthost
    std::vector<std::string> rcpt, attach, inline_images, html_images, headers, tokens;
};

// RFC 4180 CSV: fields split at commas, "quoted" fields may hold commas, "" and line breaks;
// CRLF or LF ends a record. Blank lines are skipped.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, any = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = any = true;
        } else if (c == ',') {
            row.push_back(std::move(field));
            field.clear();
            any = true;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            if (any || !field.empty()) {
                row.push_back(std::move(field));
                rows.push_back(std::move(row));
            }
            row.clear();
            field.clear();
            any = false;
        } else {
            field += c;
            any = true;
        }
    }
    if (quoted) throw std::runtime_error("--merge: a quoted field is not closed");
    if (any || !field.empty()) {
        row.push_back(std::move(field));
        rows.push_back(std::move(row));
    }
    return rows;
}

struct MergeRow {
    std::string address;
    mime::Tokens tokens;
};

// The header row names the columns: the first is the address, the others token names.
std::vector<MergeRow> read_merge(const std::string& path) {
    const auto rows = parse_csv(read_file(path));
    if (rows.empty()) throw std::runtime_error("--merge " + path + ": no header row");
    const std::vector<std::string>& names = rows.front();
    std::vector<MergeRow> out;
    for (std::size_t r = 1; r < rows.size(); ++r) {
        const auto& row = rows[r];
        const std::string where = "--merge " + path + ": row " + std::to_string(r + 1);
        if (row.size() > names.size()) throw std::runtime_error(where + " has more fields than the header");
        MergeRow m;
        const auto a = mime::extract_addresses(row.at(0));
        if (a.size() != 1 || a.front().find('@') == std::string::npos)
            throw std::runtime_error(where + ": '" + row[0] + "' is not one address");
        m.address = a.front();
        for (std::size_t c = 1; c < names.size(); ++c) m.tokens[names[c]] = c < row.size() ? row[c] : std::string();
        out.push_back(std::move(m));
    }
    if (out.empty()) throw std::runtime_error("--merge " + path + ": no recipients (only a header row)");
    return out;
}

// What a queue would send as MAIL FROM / RCPT TO must be what a server accepts (RFC 5321 4.1.2).
void check_address(const std::string& text, bool rcpt) {
    const std::string path = "<" + text + ">";
    const proto::PathParse p = proto::parse_path(path, rcpt);
    if (p.error != proto::Error::None || !p.params.empty() || (rcpt && p.address.empty()))
        throw std::runtime_error("bad address '" + text + "'");
}

Config load_config_for(const std::string& path) {
    if (path.empty()) {
        struct stat st{};
        if (::stat("mail.ini", &st) != 0) return Config{};  // never writes mail.ini
        return load_config("mail.ini", false);
    }
    return load_config(path, false);
}

struct Outgoing {
    std::string data;
    std::vector<std::string> recipients;
};

EmailMessage message_from(const Args& a) {
    EmailMessage m;
    m.from = a.from;
    m.to = a.to;
    m.cc = a.cc;
    m.bcc = a.bcc;
    m.reply_to = a.reply_to;
    m.subject = a.subject;
    m.text = a.text_file.empty() ? a.text : read_file(a.text_file);
    m.html = a.html_file.empty() ? a.html : read_file(a.html_file);
    for (const auto& f : a.attach) m.attachments.push_back(EmailFile::from_path(f));
    // --inline: an image the HTML names as cid:FILENAME; --html-image: by its path in src.
    for (const auto& f : a.inline_images) m.html_images.push_back(EmailFile::from_path(f));
    for (const auto& f : a.html_images) m.html_images.push_back(EmailFile::from_path(f));
    for (const auto& h : a.headers) {
        const auto colon = h.find(':');
        if (colon == std::string::npos || colon == 0) throw std::runtime_error("bad --header '" + h + "' (expected 'Name: value')");
        std::string value = h.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        m.extra_headers.emplace_back(h.substr(0, colon), value);
    }
    return m;
}

std::string compose(EmailMessage m) {
    EmailCompose c(std::move(m));
    std::string data = c.data();
    if (data.empty()) throw std::runtime_error(c.error());
    return data;
}

// Every message this run sends or queues: one, or one per --merge row (To: that address
// unless --to is given; the row's tokens over the --token defaults).
std::vector<Outgoing> build(const Args& a) {
    mime::Tokens defaults;
    for (const auto& t : a.tokens) {
        const auto eq = t.find('=');
        if (eq == std::string::npos || eq == 0) throw std::runtime_error("bad --token '" + t + "' (expected NAME=VALUE)");
        defaults[t.substr(0, eq)] = t.substr(eq + 1);
    }
    std::vector<Outgoing> out;
    if (a.merge.empty()) {
        if (!a.raw.empty()) {
            const std::string raw = read_file(a.raw);
            out.push_back({defaults.empty() ? raw : mime::merge_tokens(raw, defaults), {}});
        } else {
            EmailMessage m = message_from(a);
            if (!defaults.empty()) {
                m.subject = mime::merge_tokens(m.subject, defaults);
                m.text = mime::merge_tokens(m.text, defaults);
                m.html = mime::merge_tokens(m.html, defaults);
            }
            EmailCompose c(m);
            out.push_back({compose(std::move(m)), c.recipients()});
        }
        if (!a.rcpt.empty()) out.front().recipients = a.rcpt;
        if (out.front().recipients.empty()) throw std::runtime_error("no recipients: give --to, --cc, --bcc or --rcpt");
        return out;
    }
    if (!a.rcpt.empty() || !a.cc.empty() || !a.bcc.empty())
        throw std::runtime_error("--merge gives the recipients: no --rcpt, --cc or --bcc with it");
    const std::string raw = a.raw.empty() ? std::string() : read_file(a.raw);
    const EmailMessage base = a.raw.empty() ? message_from(a) : EmailMessage{};
    for (const MergeRow& row : read_merge(a.merge)) {
        mime::Tokens tokens = row.tokens;
        for (const auto& [k, v] : defaults) tokens.emplace(k, v);  // the row's win
        if (!a.raw.empty()) {
            out.push_back({mime::merge_tokens(raw, tokens), {row.address}});
            continue;
        }
        EmailMessage m = base;
        if (m.to.empty()) m.to = row.address;
        m.subject = mime::merge_tokens(m.subject, tokens);
        m.text = mime::merge_tokens(m.text, tokens);
        m.html = mime::merge_tokens(m.html, tokens);
        out.push_back({compose(std::move(m)), {row.address}});
    }
    return out;
}

smtp::Mode tls_mode(const std::string& tls) {
    if (tls == "starttls") return smtp::Mode::StartTls;
    if (tls == "smtps") return smtp::Mode::Tls;
    if (tls != "none") throw std::runtime_error("--tls must be none, starttls or smtps");
    return smtp::Mode::Plain;
}

int queue_all(const Args& a, const std::string& sender, const std::vector<Outgoing>& messages) {
    EmailQueued q;
    q.from = sender;
    if (!a.priority.empty()) {
        const auto p = relay::parse_priority(a.priority);
        if (!p) throw std::runtime_error("bad --priority '" + a.priority + "' (expected high, medium or low)");
        q.priority = *p;
    }
    if (!a.not_before.empty()) {
        const relay::TimestampParse t = relay::parse_iso8601(a.not_before);
        if (t.error != relay::TimestampError::None)
            throw std::runtime_error("bad --not-before '" + a.not_before + "': " + std::string(relay::describe(t.error)));
        q.not_before = t.time;
    }
    if (a.host_given) {  // the message's own smarthost, kept with it in the queue
        if (!a.cafile.empty())
            throw std::runtime_error("--cafile cannot go with --queue (the relay trusts [relay] ca_file's CAs)");
        q.smarthost.host = a.host;
        q.smarthost.port = a.port;
        q.smarthost.tls = tls_mode(a.tls);
        q.smarthost.user = a.user;
        q.smarthost.password = a.password_file.empty() ? std::string() : read_password(a.password_file);
        if (!q.smarthost.password.empty() && a.user.empty()) throw std::runtime_error("--password-file needs --user");
        q.smarthost.timeout_s = a.timeout;
        q.smarthost.verify = !a.insecure;
    }
    check_address(sender, false);
    for (const auto& m : messages)
        for (const auto& r : m.recipients) check_address(r, true);
    const Config c = load_config_for(a.config);
    auto queue = MailQueue::open(c.relay.queue_dir, c.relay.max_message_size);
    std::string error;
    const EmailResult r = email_batch(*queue, [&](EmailBatch& batch) {
        for (const auto& m : messages) {
            q.data = m.data;
            q.recipients = m.recipients;
            if (EmailResult added = batch.queue(q); !added && error.empty()) error = added.error;
        }
    });
    if (!error.empty() || !r) {
        std::fprintf(stderr, "ringmail send: %s\n", (error.empty() ? r.error : error).c_str());
        return 2;  // nothing was queued: the batch commits only when every message went in
    }
    for (const auto& id : r.ids) std::printf("%s\n", id.c_str());
    return 0;
}

int run_send(const Args& a) {
    if ((a.html_file == "-" || a.text_file == "-") && a.password_file == "-")
        throw std::runtime_error("a body from stdin and --password-file - cannot both read stdin");
    if (!a.html.empty() && !a.html_file.empty()) throw std::runtime_error("give --html or --html-file, not both");
    if (!a.text.empty() && !a.text_file.empty()) throw std::runtime_error("give --text or --text-file, not both");
    if (!a.queue && (!a.priority.empty() || !a.not_before.empty()))
        throw std::runtime_error("--priority and --not-before need --queue");
    const smtp::Mode mode = tls_mode(a.tls);

    const auto senders = mime::extract_addresses(a.from);
    if (senders.empty()) throw std::runtime_error("--from holds no address");
    const std::vector<Outgoing> messages = build(a);
    if (a.queue) return queue_all(a, senders[0], messages);

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
    int status = 0;
    for (const Outgoing& m : messages) {  // one connection, RSET between (the client's job)
        const smtp::SendResult r = client.send(senders[0], m.recipients, m.data);
        for (const auto& x : r.recipients)
            std::printf("%s: %s (%s)\n", x.address.c_str(), x.accepted ? "accepted" : "refused", x.reply.c_str());
        if (r.ok()) continue;
        std::fprintf(stderr, "ringmail send: %s\n", r.error.c_str());
        status = std::max(status, r.kind == smtp::ErrorKind::Refused ? 1 : 2);
        if (!client.is_open()) break;
    }
    client.close();
    return status;
}

}  // namespace

void add_send(CLI::App& app, int& status) {
    static Args a;
    CLI::App* cmd = app.add_subcommand("send", "Send a message to an SMTP server, or queue it");
    cmd->footer(
        "The envelope sender is the address in --from; the recipients come from --to, --cc and --bcc\n"
        "unless --rcpt is given. The password is read from --password-file (first line), never\n"
        "from the command line. --queue puts the message in the relay's queue ([relay] queue_dir\n"
        "of --config) instead and prints its id (the relay delivers it by its own route, or through\n"
        "--host when that is given); --merge FILE.csv sends one message per row (header\n"
        "row: address, then token names; #Name# in the subject and bodies takes the row's value).\n"
        "Exit status: 0 every recipient accepted (or queued); 1 some or all refused (one line per\n"
        "recipient on stdout); 2 usage, connection, TLS, AUTH or queue error.");
    cmd->add_option("--from", a.from, "From header, e.g. '\"Alice\" <alice@example.com>'")->required();
    cmd->add_option("--to", a.to, "To header");
    cmd->add_option("--cc", a.cc, "Cc header");
    cmd->add_option("--bcc", a.bcc, "Bcc recipients (envelope only, no header)");
    cmd->add_option("--reply-to", a.reply_to, "Reply-To header");
    cmd->add_option("--rcpt", a.rcpt, "envelope recipient (repeatable; replaces those from the headers)");
    cmd->add_option("--subject", a.subject, "Subject (UTF-8)");
    cmd->add_option("--text", a.text, "text/plain body");
    cmd->add_option("--text-file", a.text_file, "text/plain body from FILE, or - for stdin");
    cmd->add_option("--html", a.html, "text/html body");
    cmd->add_option("--html-file", a.html_file, "text/html body from FILE, or - for stdin");
    cmd->add_option("--html-image", a.html_images,
                    "an image the HTML shows by this exact path in src=\"...\" (repeatable; becomes cid:)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--attach", a.attach, "attach a file (repeatable)")->check(CLI::ExistingFile);
    cmd->add_option("--inline", a.inline_images, "an image the HTML shows as cid:FILENAME (repeatable)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--header", a.headers, "extra header 'Name: value' (repeatable)");
    cmd->add_option("--raw", a.raw, "send this ready MIME file instead of composing one")->check(CLI::ExistingFile);
    cmd->add_option("--merge", a.merge, "one message per CSV row: address, then #Token# values")
        ->check(CLI::ExistingFile);
    cmd->add_option("--token", a.tokens, "NAME=VALUE: a #NAME# default for every message (repeatable)");
    cmd->add_flag("--queue", a.queue, "queue the message(s) for the relay instead of sending now; prints the ids");
    cmd->add_option("--priority", a.priority, "with --queue: high, medium (default) or low");
    cmd->add_option("--not-before", a.not_before, "with --queue: no delivery before this ISO 8601 time");
    cmd->add_option("--config", a.config, "with --queue: mail.ini with [relay] queue_dir (default ./mail.ini if present)");
    cmd->add_option("--host", a.host, "SMTP server (default localhost); with --queue, the message's own smarthost "
                                      "(with --port, --tls, --user, --password-file, --timeout, --insecure)")
        ->each([](const std::string&) { a.host_given = true; });
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
