// tools/ringmail.cpp — the `ringmail` command line. `serve` runs the SMTP server with the
// settings of mail.ini (created with defaults when missing); flags override the file.
// Usage errors and bad settings: one line on stderr and exit status 2.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "engine/config.hpp"
#include "engine/server.hpp"

int main(int argc, char** argv) {
    CLI::App app{"ringmail: a high-performance SMTP engine"};
    app.require_subcommand(1);

    std::string config_path = "mail.ini";
    std::string port, reactors, handler;
    CLI::App* serve = app.add_subcommand("serve", "Run the SMTP server until SIGINT or SIGTERM");
    serve->add_option("--config", config_path, "INI file, written with defaults when missing")
        ->capture_default_str();
    serve->add_option("--port", port, "TCP port (0: a free one, printed at start)");
    serve->add_option("--reactors", reactors, "reactor threads (0: one per core)");
    serve->add_option("--handler", handler, "print | discard | maildir:DIR");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help
        std::fprintf(stderr, "ringmail: %s (see ringmail --help)\n", e.what());
        return 2;
    }

    if (serve->parsed()) {
        ringmail::Config config;
        try {
            config = ringmail::load_config(config_path);
            if (!port.empty()) ringmail::set_config_key(config, "port", port);
            if (!reactors.empty()) ringmail::set_config_key(config, "reactors", reactors);
            if (!handler.empty()) ringmail::set_config_key(config, "handler", handler);
            ringmail::validate_config(config);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ringmail: %s\n", e.what());
            return 2;
        }
        return ringmail::server::run(config);
    }
    return 0;
}
