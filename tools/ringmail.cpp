// tools/ringmail.cpp — the `ringmail` command line: serve, parse, extract, compose, send, queue, mx.
// Usage errors: one line on stderr and exit status 2.
#include <cstdio>
#include <string>

#include "tools/commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"ringmail: a high-performance SMTP engine"};
    app.set_version_flag("--version", std::string("ringmail ") + RINGMAIL_VERSION);
    app.require_subcommand(1);
    int status = 0;
    ringmail::tools::add_serve(app, status);
    ringmail::tools::add_parse(app, status);
    ringmail::tools::add_extract(app, status);
    ringmail::tools::add_compose(app, status);
    ringmail::tools::add_send(app, status);
    ringmail::tools::add_queue(app, status);
    ringmail::tools::add_mx(app, status);
    try {
        app.parse(argc, argv);  // runs the chosen subcommand's callback
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help
        std::fprintf(stderr, "ringmail: %s (see ringmail --help)\n", e.what());
        return 2;
    }
    return status;
}
