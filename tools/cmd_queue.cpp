// tools/cmd_queue.cpp — `ringmail queue add|list|show|status|remove|retry|flush`: the
// operator's view of the outbound queue (issue 14), on relay::SqliteStore in the [relay]
// queue_dir of --config. Works while a server runs (WAL readers, a busy timeout for
// writers). Any problem is one line on stderr and exit status 2, never a crash.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/queue_json.hpp"
#include "base/ascii.hpp"
#include "config/config.hpp"
#include "proto/path.hpp"
#include "relay/queue_wake.hpp"
#include "relay/sqlite_store.hpp"
#include "tools/commands.hpp"

namespace ringmail::tools {
namespace {

using relay::MessageId;

struct Args {
    std::string config;  // empty: mail.ini when it exists, else the defaults
    std::string from, priority = "medium", not_before, file, status, id;
    std::vector<std::string> to;
    bool json = false, all = false;
};
Args a;

struct QueueError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string shown(std::string_view v) { return base::quoted(v); }

Config load() {
    if (a.config.empty()) {
        struct stat st{};
        if (::stat("mail.ini", &st) != 0) return Config{};  // a queue command never writes mail.ini
        return load_config("mail.ini", false);
    }
    return load_config(a.config, false);  // a mistyped --config is an error, not the defaults
}

// Only `add` creates the queue; the others on a missing queue_dir say so.
std::unique_ptr<relay::SqliteStore> open_store(bool create, const Config& c = load()) {
    relay::SqliteStoreOptions o;
    o.dir = c.relay.queue_dir;
    o.create = create;
    o.max_message_size = c.relay.max_message_size;
    auto store = relay::SqliteStore::open(o);
    const auto& missing = store->recovery().missing_bodies;
    if (!missing.empty())
        std::fprintf(stderr, "ringmail: queue: warning: %zu message(s) have no body file in %s/spool (first %s); "
                     "`ringmail queue remove ID` drops them\n", missing.size(), o.dir.c_str(),
                     missing.front().text().c_str());
    return store;
}

void check(const relay::StoreResult& r) {
    if (!r) throw QueueError(r.detail);
}

MessageId parse_id(const std::string& text) {
    const auto id = MessageId::parse(text);
    if (!id) throw QueueError(shown(text) + " is not a message id (16 hex digits, as `queue add` printed it)");
    return *id;
}

relay::Time now() { return static_cast<relay::Time>(std::time(nullptr)); }

std::string iso(std::optional<relay::Time> t) { return t ? relay::format_iso8601(*t) : "-"; }

// RFC 5321 4.1.2 Mailbox through the server's own path parser: what the queue would send
// as MAIL FROM / RCPT TO must be what a server accepts. The sender may be empty (<>).
std::string address(const std::string& text, bool rcpt, const char* flag) {
    const std::optional<std::string> a = proto::bare_address(text, rcpt);
    if (!a)
        throw QueueError("bad " + std::string(flag) + " " + shown(text) +
                         " (expected an address like user@example.org)");
    return *a;
}

// Copies FILE or standard input into the queue's tmp/, at most `max` octets, so the store
// moves the file into its spool instead of us holding up to 8 MB in memory.
std::string upload(relay::Store& store, const std::string& file, std::uint64_t max) {
    const int in = file == "-" ? 0 : ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throw QueueError(shown(file) + ": cannot read (" + std::strerror(errno) + ")");
    std::string tmp = store.temp_dir() + "/add-XXXXXX";
    const int out = ::mkstemp(tmp.data());
    if (out < 0) {
        const int e = errno;
        if (in != 0) ::close(in);
        throw QueueError(store.temp_dir() + ": " + std::strerror(e));
    }
    std::string error;
    std::uint64_t total = 0;
    std::vector<char> buf(1 << 16);
    for (;;) {
        const ssize_t n = ::read(in, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = shown(file) + ": cannot read (" + std::strerror(errno) + ")";
            break;
        }
        if (n == 0) break;
        total += static_cast<std::uint64_t>(n);
        if (max && total > max) {
            error = shown(file) + ": message over max_message_size (" + std::to_string(max) + " octets)";
            break;
        }
        for (ssize_t done = 0; done < n;) {
            const ssize_t w = ::write(out, buf.data() + done, static_cast<std::size_t>(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                error = tmp + ": " + std::strerror(errno);
                break;
            }
            done += w;
        }
        if (!error.empty()) break;
    }
    if (in != 0) ::close(in);
    ::close(out);
    if (!error.empty()) {
        ::unlink(tmp.c_str());
        throw QueueError(error);
    }
    return tmp;
}

int cmd_add() {
    relay::NewMessage m;
    m.sender = address(a.from, false, "--from");
    for (const auto& t : a.to) m.recipients.push_back(address(t, true, "--to"));
    const auto p = relay::parse_priority(a.priority);
    if (!p) throw QueueError("bad --priority " + shown(a.priority) + " (expected high, medium or low)");
    m.priority = *p;
    if (!a.not_before.empty()) {
        const relay::TimestampParse t = relay::parse_iso8601(a.not_before);
        if (t.error != relay::TimestampError::None)
            throw QueueError("bad --not-before " + shown(a.not_before) + ": " + std::string(describe(t.error)));
        m.not_before = t.time;
    }
    const Config c = load();
    auto store = open_store(true, c);
    m.body_file = upload(*store, a.file, c.relay.max_message_size);
    std::vector<MessageId> ids;
    const relay::StoreResult r = store->enqueue({&m, 1}, now(), ids);
    if (!r) ::unlink(m.body_file.c_str());  // still there when the store refused it before moving it
    check(r);
    relay::QueueWake::poke(c.relay.queue_dir);  // a running server delivers it now, not at its tick
    std::printf("%s\n", ids.at(0).text().c_str());
    return 0;
}

// Pages of 1,000, so a queue of a million messages lists in bounded memory.
int cmd_list() {
    relay::ListQuery q;
    if (!a.status.empty()) {
        q.status = relay::parse_status(a.status);
        if (!q.status) throw QueueError("bad --status " + shown(a.status) + " (expected queued, sent or error)");
    }
    auto store = open_store(false);
    if (a.json) {
        QueueListJson list(*store, q.status);
        for (std::string piece; list.next(piece); piece.clear()) std::fputs(piece.c_str(), stdout);
        check(list.error());
        std::fputs("\n", stdout);
        return 0;
    }
    std::vector<relay::MessageSummary> page;
    do {
        check(store->list(q, page));
        for (const auto& m : page)
            std::printf("%s %-6s %-6s %9llu %s <%s> %u/%u pending next %s\n", m.id.text().c_str(),
                        std::string(relay::name(m.status)).c_str(), std::string(relay::name(m.priority)).c_str(),
                        static_cast<unsigned long long>(m.size), relay::format_iso8601(m.created).c_str(),
                        m.sender.c_str(), m.pending, m.recipients, iso(m.next_attempt).c_str());
        if (!page.empty()) q.after = page.back().id;
    } while (page.size() == q.limit);
    return 0;
}

int cmd_show() {
    const MessageId id = parse_id(a.id);
    auto store = open_store(false);
    relay::MessageInfo m;
    check(store->show(id, m));
    if (a.json) {
        std::printf("%s\n", queue_message_json(m).c_str());
        return 0;
    }
    std::printf("id: %s\nstatus: %s\npriority: %s\nfrom: <%s>\nsize: %llu\ncreated: %s\n", m.id.text().c_str(),
                std::string(relay::name(m.status)).c_str(), std::string(relay::name(m.priority)).c_str(),
                m.sender.c_str(), static_cast<unsigned long long>(m.size), relay::format_iso8601(m.created).c_str());
    if (m.route) std::printf("smarthost: %s\n", m.route->label().c_str());  // its own; never the login
    for (const auto& r : m.recipients)
        std::printf("recipient: <%s> %s attempts %u next %s%s%s\n", r.address.c_str(),
                    std::string(relay::name(r.status)).c_str(), r.attempts, iso(r.next_attempt).c_str(),
                    r.attempts ? " last reply: " : "", r.attempts ? r.last_reply.c_str() : "");
    return 0;
}

int cmd_status() {
    const MessageId id = parse_id(a.id);
    auto store = open_store(false);
    relay::Status st{};
    check(store->status(id, st));
    std::printf("%s\n", std::string(relay::name(st)).c_str());
    return 0;
}

int cmd_remove() {
    const MessageId id = parse_id(a.id);
    auto store = open_store(false);
    check(store->remove(id));
    std::printf("removed %s\n", id.text().c_str());
    return 0;
}

int cmd_retry() {
    if (a.all == !a.id.empty()) throw QueueError("retry needs a message id or --all (not both)");
    const Config c = load();
    if (a.all) {
        auto store = open_store(false, c);
        std::size_t n = 0;
        check(store->retry_all(now(), n));
        relay::QueueWake::poke(c.relay.queue_dir);
        std::printf("%zu message(s) due now\n", n);
        return 0;
    }
    const MessageId id = parse_id(a.id);
    auto store = open_store(false, c);
    check(store->retry(id, now()));
    relay::QueueWake::poke(c.relay.queue_dir);
    std::printf("%s due now\n", id.text().c_str());
    return 0;
}

int cmd_flush() {
    const Config c = load();
    auto store = open_store(false, c);
    std::size_t n = 0;
    check(store->flush(now(), n));
    relay::QueueWake::poke(c.relay.queue_dir);
    std::printf("%zu message(s) due now\n", n);
    return 0;
}

}  // namespace

void add_queue(CLI::App& app, int& status) {
    CLI::App* queue = app.add_subcommand("queue", "See and steer the outbound queue ([relay] queue_dir)");
    queue->require_subcommand(1);
    const auto leaf = [&](const char* name, const char* help, int (*run)()) {
        CLI::App* cmd = queue->add_subcommand(name, help);
        cmd->add_option("--config", a.config, "INI file with a [relay] queue_dir (default: mail.ini if present)");
        cmd->callback([&status, run] {
            try {
                status = run();
            } catch (const std::exception& e) {
                std::string line = e.what();
                for (char& c : line)
                    if (c == '\n' || c == '\r') c = ' ';
                std::fprintf(stderr, "ringmail: queue: %s\n", line.c_str());
                status = 2;
            }
        });
        return cmd;
    };
    CLI::App* add = leaf("add", "Queue a message file (or - for standard input); prints its id", cmd_add);
    add->add_option("--from", a.from, "envelope sender ('' for the null sender)")->required();
    // One address per --to, so the FILE after the last one is not taken for an address.
    add->add_option("--to", a.to, "envelope recipient (repeat --to for more)")
        ->required()
        ->allow_extra_args(false);
    add->add_option("--priority", a.priority, "high, medium or low")->capture_default_str();
    add->add_option("--not-before", a.not_before, "no delivery before this ISO 8601 time, e.g. 2026-12-06T19:42:00Z");
    add->add_option("file", a.file, "the message (RFC 5322), or - for standard input")->required();

    CLI::App* list = leaf("list", "One line per message (id, status, priority, size, created, sender, pending)",
                          cmd_list);
    list->add_option("--status", a.status, "only queued, sent or error");
    list->add_flag("--json", a.json, "one JSON array");

    CLI::App* show = leaf("show", "A message and its recipients", cmd_show);
    show->add_option("id", a.id, "message id")->required();
    show->add_flag("--json", a.json, "as JSON");

    leaf("status", "Print queued, sent or error", cmd_status)->add_option("id", a.id, "message id")->required();
    leaf("remove", "Delete a message and its body, whatever its status", cmd_remove)
        ->add_option("id", a.id, "message id")
        ->required();
    CLI::App* retry = leaf("retry", "Make a message (or --all) due now; failed recipients are queued again",
                           cmd_retry);
    retry->add_option("id", a.id, "message id");
    retry->add_flag("--all", a.all, "every message not yet sent");
    leaf("flush", "Make every pending recipient due now (failed ones stay failed)", cmd_flush);
}

}  // namespace ringmail::tools
