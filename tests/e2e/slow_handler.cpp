// tests/e2e/slow_handler.cpp — a server program whose on_mail takes SECONDS per message, as
// a user's slow handler would: the e2e tests drive the handler deadline and load shedding
// with it. Usage: slow_handler CONFIG SECONDS
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "smtpd/server.hpp"

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    const auto pause = std::chrono::milliseconds(static_cast<long>(std::atof(argv[2]) * 1000));
    ringmail::server::use([pause](const ringmail::Mail&) {
        std::this_thread::sleep_for(pause);
        return ringmail::Verdict::accept();
    });
    return ringmail::server::run(std::string(argv[1]));
}
