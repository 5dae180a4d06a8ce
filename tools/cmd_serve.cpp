// tools/cmd_serve.cpp — `ringmail serve`: mail.ini (written with the defaults when missing,
// for the default path or with --init), then flags on top; a bad setting is one line on
// stderr and exit status 2. With handler = queue the HTTP API ([http], http/server) runs too.
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "http/server.hpp"
#include "smtpd/server.hpp"
#include "tools/commands.hpp"

namespace ringmail::tools {
namespace {

// http::Server as the smtpd server's QueueService (neither layer knows the other).
class HttpService final : public server::QueueService {
public:
    explicit HttpService(std::unique_ptr<http::Server> s) noexcept : s_(std::move(s)) {}
    std::string banner() const override { return "HTTP API on " + s_->address(); }
    void start() override { s_->start(); }

private:
    std::unique_ptr<http::Server> s_;
};

std::unique_ptr<server::QueueService> make_http_service(const Config& config, std::function<void()> poke,
                                                        std::function<metrics::Snapshot()> stats) {
    auto s = http::make_server(config, std::move(poke), std::move(stats));
    if (!s) return nullptr;
    return std::make_unique<HttpService>(std::move(s));
}

}  // namespace

void add_serve(CLI::App& app, int& status) {
    struct Args {
        std::string config = "mail.ini";
        std::string port, reactors, handler, tls_port;
        std::optional<std::string> http_listen;
        std::vector<std::string> sets;  // KEY=VALUE or SECTION.KEY=VALUE
        bool init = false;
        bool check = false;
    };
    static Args a;
    CLI::App* serve = app.add_subcommand("serve", "Run the SMTP server until SIGINT or SIGTERM");
    serve->add_option("--config", a.config, "INI file; the default one is written with the defaults when missing")
        ->capture_default_str();
    serve->add_flag("--init", a.init, "write the defaults to --config's file when it is missing");
    serve->add_flag("--check", a.check,
                    "check the config (and the certificate, key and auth_users it names), print 'config OK', exit");
    serve->add_option("--port", a.port, "TCP port (0: a free one, printed at start)");
    serve->add_option("--tls-port", a.tls_port, "implicit TLS port (auto: a free one, printed at start)");
    serve->add_option("--reactors", a.reactors, "reactor threads (0: one per core)");
    serve->add_option("--handler", a.handler, "print | discard | queue | maildir:DIR");
    serve->add_option("--http-listen", a.http_listen,
                      "[http] listen: ADDRESS:PORT of the HTTP API (port 0: a free one, printed at start; '': none)");
    serve->add_option("--set", a.sets,
                      "KEY=VALUE (or relay.KEY=VALUE, http.KEY=VALUE): any mail.ini key over the file's (repeatable)");
    serve->callback([&status] {
        Config config;
        try {
            config = load_config(a.config, a.init || a.config == "mail.ini");
            if (!a.port.empty()) set_config_key(config, "port", a.port);
            if (!a.tls_port.empty()) set_config_key(config, "tls_port", a.tls_port);
            if (!a.reactors.empty()) set_config_key(config, "reactors", a.reactors);
            if (!a.handler.empty()) set_config_key(config, "handler", a.handler);
            if (a.http_listen) set_config_key(config, "http", "listen", *a.http_listen);
            for (const std::string& kv : a.sets) {
                const std::size_t eq = kv.find('=');
                if (eq == std::string::npos || eq == 0) throw ConfigError("--set " + kv + ": expected KEY=VALUE");
                const std::string key = kv.substr(0, eq);
                const std::size_t dot = key.find('.');
                if (dot == std::string::npos) set_config_key(config, key, kv.substr(eq + 1));
                else set_config_key(config, key.substr(0, dot), key.substr(dot + 1), kv.substr(eq + 1));
            }
            validate_config(config);
            if (a.check) {
                server::check(config);
                std::printf("ringmail: %s: config OK\n", a.config.c_str());
                return;
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ringmail: %s\n", e.what());
            status = 2;
            return;
        }
        server::add_queue_service(make_http_service);
        status = server::run(config);
    });
}

}  // namespace ringmail::tools
