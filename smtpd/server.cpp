// smtpd/server.cpp — start-up and shutdown: config → listeners → sinks → reactors;
// then wait for SIGINT/SIGTERM, stop accepting, let transactions finish within
// shutdown_grace, drain the sinks, return 0. Errors before serving return 2. SIGHUP
// reloads the certificate and the auth_users file; a bad one keeps the old.
#include "smtpd/server.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "mime/charset.hpp"
#include "smtpd/auth_users.hpp"
#include "smtpd/handler_pool.hpp"
#include "io/event_file.hpp"
#include "io/listener.hpp"
#include "base/log.hpp"
#include "relay/relay.hpp"
#include "relay/sqlite_store.hpp"
#include "smtpd/maildir.hpp"
#include "smtpd/queue_writer.hpp"
#include "smtpd/print_handler.hpp"
#include "smtpd/reactor.hpp"
#include "io/tls_context.hpp"

namespace ringmail {
namespace smtpd {

// The server of this process (one at a time); jobs name their reactor by number in it.
Shared* shared_of_jobs = nullptr;


void complete(Job& job, proto::Outcome outcome, std::string text) {
    // The budget gets the message's bytes back before the client hears the verdict: a
    // client that sends its next message at once must find them free.
    job.charge.release();
    // Set before any reactor thread started and read-only since: no lock needed.
    shared_of_jobs->inboxes[job.home.reactor]->post(JobDone{job.home.conn, job.home.seq, outcome, std::move(text)});
}

}  // namespace smtpd

namespace server {
namespace {

smtpd::Handlers& user_handlers() {
    static smtpd::Handlers h;
    return h;
}

std::vector<QueueServiceFactory>& queue_services() {
    static std::vector<QueueServiceFactory> v;
    return v;
}

std::string machine_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
    return buf;
}

// Checked at start, after the command line's flags: --port brings the plain listener back.
void require_listener(const Config& config) {
    if (!config.plain && config.tls_port == 0 && !config.tls_port_auto)
        throw ConfigError("nothing to listen on: set port (or tls_port with tls_crt and tls_key)");
}

int serve(const Config& config) {
    validate_config(config);
    require_listener(config);
    log::set_format(config.log_json ? log::Format::Json : log::Format::Text);
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const unsigned reactors = config.reactors ? config.reactors : cores;
    const unsigned workers = config.handler_threads ? config.handler_threads : cores;

    auto shared = std::make_unique<smtpd::Shared>();
    shared->config = config;
    shared->hostname = config.hostname.empty() ? machine_name() : config.hostname;
    shared->features.auth = true;
    // A bad certificate or key is a start-up error: one line, exit status 2.
    io::SslCtxPtr tls_ctx;
    if (!config.tls_crt.empty()) tls_ctx = io::make_tls_context(config.tls_crt, config.tls_key);
    shared->features.starttls = static_cast<bool>(tls_ctx);

    // Signals go to sigwait() below only; every thread inherits this mask.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);  // its default action would kill the server
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    // Every connection is a descriptor: take all the kernel allows this process (the soft
    // limit is often 1024, far under max_connections).
    if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &lim);
    }

    std::uint16_t port = config.port;
    std::vector<int> fds;
    if (config.plain) fds = io::open_listeners(config.local, port, reactors);
    std::uint16_t tls_port = config.tls_port;
    std::vector<int> tls_fds;
    if (tls_ctx && (tls_port != 0 || config.tls_port_auto)) {
        try {
            tls_fds = io::open_listeners(config.local, tls_port, reactors);
        } catch (...) {
            for (int fd : fds) ::close(fd);
            throw;
        }
    }

    smtpd::Handlers h = user_handlers();
    // auth_users is the on_auth of users who write no C++; a program's own wins.
    std::shared_ptr<smtpd::AuthUsers> users;
    if (!config.auth_users.empty() && !h.on_auth) {
        users = std::make_shared<smtpd::AuthUsers>(config.auth_users);
        h.on_auth = [users](const std::string& u, const std::string& p) { return users->check(u, p); };
    }
    const std::string mail_handler = h.on_mail ? "on_mail" : config.handler;
    std::unique_ptr<smtpd::JobSink> maildir;
    if (!h.on_mail && config.handler.rfind("maildir:", 0) == 0)
        maildir = std::make_unique<smtpd::MaildirWriter>(config.handler.substr(8), shared->hostname);
    // A bad path is a start-up error; opened before the relay, which writes to it.
    std::unique_ptr<io::EventFile> events;
    if (!config.event_log.empty()) events = std::make_unique<io::EventFile>(config.event_log);
    shared->events = events.get();
    // handler = queue: accepted mail goes into the durable queue, and this process delivers
    // it. The relay's store opens first: an opener alone runs the queue's recovery.
    std::unique_ptr<relay::Relay> relay_engine;
    std::unique_ptr<smtpd::RelayAccess> relay_access;
    if (!h.on_mail && config.handler == "queue") {
        relay::SqliteStoreOptions so;
        so.dir = config.relay.queue_dir;
        so.max_message_size = config.relay.max_message_size;
        std::unique_ptr<relay::Store> writer_store;
        std::unique_ptr<relay::Store> relay_store;
        {
            relay::SqliteStoreOptions results = so;
            results.sync_every_commit = false;  // a lost result is a delivery made twice
            relay_store = relay::SqliteStore::open(results);
        }
        writer_store = relay::SqliteStore::open(so);
        relay_engine = std::make_unique<relay::Relay>(config.relay, std::move(relay_store), shared->hostname);
        relay_engine->set_event_log(events.get());
        maildir = std::make_unique<smtpd::QueueWriter>(std::move(writer_store), shared->hostname,
                                                       [r = relay_engine.get()] { r->poke(); });
        relay_access = std::make_unique<smtpd::RelayAccess>(config.relay.relay_domains, config.relay.relay_networks);
        shared->relay_access = relay_access.get();
        // A message the queue would refuse is refused in SMTP already (SIZE, 552).
        shared->config.limits.max_message_size =
            std::min<std::uint64_t>(shared->config.limits.max_message_size, config.relay.max_message_size);
    }
    if (!h.on_mail && config.handler == "print") {
        h.on_mail = smtpd::print_mail;
        h.parts = MailParts::Split;  // it prints them
    }
    // The split costs most of the user-space time per message: only for a handler that reads it.
    shared->split = config.mime == MimeMode::On ||
                    (config.mime == MimeMode::Auto && h.on_mail && h.parts == MailParts::Split);
    shared->ask_rcpt = static_cast<bool>(h.on_rcpt);
    shared->ask_auth = static_cast<bool>(h.on_auth);
    const bool user_mail = static_cast<bool>(h.on_mail);
    std::unique_ptr<smtpd::HandlerPool> auth_pool;
    if (shared->ask_auth)
        auth_pool = std::make_unique<smtpd::HandlerPool>(smtpd::Handlers{{}, {}, h.on_auth}, config.auth_threads,
                                                         config.handler_queue);
    std::unique_ptr<smtpd::HandlerPool> pool;
    if (user_mail || shared->ask_rcpt)
        pool = std::make_unique<smtpd::HandlerPool>(std::move(h), workers, config.handler_queue);
    shared->pool = pool.get();
    shared->auth_pool = auth_pool.get();
    shared->mail_sink = user_mail ? static_cast<smtpd::JobSink*>(pool.get()) : maildir.get();

    std::vector<std::unique_ptr<smtpd::Reactor>> loops;
    for (std::size_t i = 0; i < reactors; ++i) {
        loops.push_back(std::make_unique<smtpd::Reactor>(*shared, static_cast<unsigned>(i), fds.empty() ? -1 : fds[i],
                                                         tls_fds.empty() ? -1 : tls_fds[i]));
        shared->inboxes.push_back(&loops.back()->inbox());
        if (tls_ctx) loops.back()->set_tls_context(tls_ctx.get());
    }
    smtpd::shared_of_jobs = shared.get();
    // The HTTP API and the like: only beside the queue they feed (and its relay). Destroyed
    // (services.clear() below) before the reactors and the relay whose counters `stats` reads.
    std::vector<std::unique_ptr<QueueService>> services;
    if (relay_engine) {
        const auto stats = [&loops, r = relay_engine.get()] {
            metrics::Snapshot s;
            for (const auto& loop : loops) loop->counters().add_to(s);
            r->counters().add_to(s);
            return s;
        };
        for (const auto& make : queue_services())
            if (auto s = make(config, [r = relay_engine.get()] { r->poke(); }, stats)) services.push_back(std::move(s));
    }
    // One write, so that a reader polling for the first line also sees the second.
    const char* addr = config.local ? "127.0.0.1" : "[::]";
    std::string banner = fds.empty() ? "ringmail: no plain listener (mail.ini has no port)\n"
                                     : "ringmail: listening on " + std::string(addr) + ":" + std::to_string(port) +
                                           " with " + std::to_string(reactors) + " reactors, handler " + mail_handler +
                                           "\n";
    banner += std::string("ringmail: MIME split ") + (shared->split ? "on" : "off") + " (mime = " +
              (config.mime == MimeMode::Auto ? "auto" : config.mime == MimeMode::On ? "on" : "off") + ")\n";
    if (!tls_fds.empty())
        banner += "ringmail: listening for TLS on " + std::string(addr) + ":" + std::to_string(tls_port) + "\n";
    if (tls_ctx)
        banner += "ringmail: STARTTLS offered; certificate SHA256 " + io::certificate_fingerprint(tls_ctx.get()) + "\n";
    for (const auto& s : services) banner += "ringmail: " + s->banner() + "\n";
    if (!relay_engine && config.http.enabled() && config.http.listen_given)
        banner += "ringmail: HTTP API off: it serves the queue, so it runs only with handler = queue\n";
    if (log::format() == log::Format::Json) {
        std::string lines;
        for (std::size_t at = 0; at < banner.size();) {
            const std::size_t end = banner.find('\n', at);
            log::Line("start").str("msg", std::string_view(banner).substr(at + 10, end - at - 10)).append_to(lines);
            at = end + 1;
        }
        banner = std::move(lines);
    }
    std::fputs(banner.c_str(), stderr);
    std::fflush(stderr);

    // The gconv modules behind the common charsets are loaded once, here, and stay loaded
    // while this thread lives (to the end): reactor threads then open converters without
    // loading code, and a reactor that exits early unloads none under the others.
    mime::warm_up_charsets();
    // A log file: lines are gathered by the log's own thread instead of a write(2) per
    // reactor turn (base/log.hpp); stopped at the end, after the last line.
    struct LogWriter {
        LogWriter() { log::start_writer(); }
        ~LogWriter() { log::stop_writer(); }
    } log_writer;
    if (relay_engine) relay_engine->start();
    for (auto& s : services) s->start();
    std::vector<std::thread> threads;
    for (auto& r : loops) threads.emplace_back([&r] { r->run(); });
    int sig = 0;
    for (;;) {
        sigwait(&set, &sig);
        if (sig == SIGUSR1) {
            // Log reopening for tools that send it (logrotate): the log is stderr, which
            // the service manager owns; the event log is ours.
            if (events) events->reopen();
            log::note(events ? "SIGUSR1: event_log reopened" : "SIGUSR1: logs go to stderr; nothing to reopen");
            continue;
        }
        if (sig != SIGHUP) break;
        std::string line = "SIGHUP:";
        if (tls_ctx) {
            try {
                io::SslCtxPtr fresh = io::make_tls_context(config.tls_crt, config.tls_key);
                // Each reactor takes its own reference; connections keep the old context.
                for (auto& r : loops) r->set_tls_context(fresh.get());
                tls_ctx = std::move(fresh);
                line += " certificate reloaded, SHA256 " + io::certificate_fingerprint(tls_ctx.get()) + ";";
            } catch (const std::exception& e) {
                line += std::string(" ") + e.what() + "; keeping the old certificate;";
            }
        }
        if (users) {
            const std::string err = users->reload();
            line += err.empty() ? " auth_users reloaded (" + std::to_string(users->size()) + " users);"
                                : " " + err + "; keeping the old users;";
        }
        if (!tls_ctx && !users) line += " nothing to reload;";
        line.pop_back();
        log::note(line);
    }
    log::note(std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") + ": finishing transactions in flight");
    // No more mail from there: the HTTP thread stops (a request under way finishes its commit;
    // its answer may be lost, and a client that sends it again gets its mail twice, never zero).
    services.clear();
    const auto grace_ends = std::chrono::steady_clock::now() + std::chrono::seconds(config.shutdown_grace);
    shared->stopping.store(true);
    for (auto& r : loops) r->wake();
    for (auto& t : threads) t.join();
    // Reactors stay allocated until the sinks stop: a late verdict still has a home.
    // Handlers get what is left of the grace period; queued jobs of the connections the
    // reactors closed are skipped, so only a handler still running can outlast it.
    std::size_t stuck = 0;
    if (pool) stuck += pool->stop_by(grace_ends);
    if (auth_pool) stuck += auth_pool->stop_by(grace_ends);
    if (maildir) maildir->stop();  // ours, and bounded by the disk
    if (relay_engine) relay_engine->stop();  // deliveries under way stay queued
    if (stuck != 0) {
        // Threads stuck in user code cannot be stopped; they still use the pools, the
        // reactors' mailboxes and `shared`, which are therefore never freed. The process
        // exits without waiting for them.
        log::note(std::to_string(stuck) + " handler call(s) still running after shutdown_grace (" +
                         std::to_string(config.shutdown_grace) + "s); exiting without them");
        (void)pool.release();
        (void)auth_pool.release();
        for (auto& r : loops) (void)r.release();
        (void)shared.release();
    }
    log::note("stopped");
    return 0;
}

}  // namespace

void check(const Config& config) {
    validate_config(config);
    require_listener(config);
    if (!config.tls_crt.empty()) (void)io::make_tls_context(config.tls_crt, config.tls_key);
    if (!config.auth_users.empty()) (void)smtpd::AuthUsers(config.auth_users);
    if (config.handler.rfind("maildir:", 0) == 0) {
        smtpd::MaildirWriter probe(config.handler.substr(8), "check");  // makes tmp/new/cur
        probe.stop();
    }
    if (config.handler == "queue") {  // the queue opens (and is made when missing)
        relay::SqliteStoreOptions so;
        so.dir = config.relay.queue_dir;
        (void)relay::SqliteStore::open(so);
    }
}

void use(OnMail on_mail, OnRcpt on_rcpt, OnAuth on_auth, MailParts parts) {
    user_handlers() = {std::move(on_mail), std::move(on_rcpt), std::move(on_auth), parts};
}

void add_queue_service(QueueServiceFactory make) { queue_services().push_back(std::move(make)); }

int run(const Config& config) {
    try {
        return serve(config);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ringmail: %s\n", e.what());
        return 2;
    }
}

int run(const std::string& config_path) {
    try {
        return serve(load_config(config_path));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ringmail: %s\n", e.what());
        return 2;
    }
}

}  // namespace server
}  // namespace ringmail
