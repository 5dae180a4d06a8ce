// tests/e2e/slow_handler.cpp — a server program whose on_mail takes SECONDS per message, as
// a user's slow handler would: the e2e tests drive the handler deadline and load shedding
// with it. Usage: slow_handler CONFIG SECONDS
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "smtpd/server.hpp"

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    const auto pause = std::chrono::milliseconds(static_cast<long>(std::atof(argv[2]) * 1000));
    ringmail::server::use([pause](const ringmail::Mail& m) {
        // One line per call, so the tests can count which messages a handler saw.
        std::printf("on_mail %zu\n", m.original.size());
        std::fflush(stdout);
        std::this_thread::sleep_for(pause);
        return ringmail::Verdict::accept();
    });
    return ringmail::server::run(std::string(argv[1]));
}
