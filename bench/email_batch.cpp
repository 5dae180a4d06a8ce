// bench/email_batch.cpp — issue 15: email_batch against queueing one message per call.
// The same composed messages (email_send: compose + enqueue) go into two fresh queues: one
// email_send call each (a durable commit each), then all inside one email_batch block per
// `batch` messages (one commit per block). Wall clock, because the cost is the disk's syncs.
// Usage: email_batch DIR [messages=2000] [batch=500]; DIR must not exist.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "api/email_queue.hpp"

namespace {

ringmail::EmailSend message(long i) {
    ringmail::EmailSend m;
    m.from = "Bench <bench@example.org>";
    m.to = "user" + std::to_string(i) + "@example.com";
    m.subject = "Newsletter #Issue#";
    m.text = std::string(900, 'x') + "\nDear #Name#, issue #Issue#.\n";
    m.tokens = {{"Issue", "15"}, {"Name", "user" + std::to_string(i)}};
    return m;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: email_batch DIR [messages] [batch]\n");
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    const long messages = argc > 2 ? std::atol(argv[2]) : 2000;
    const long batch = argc > 3 ? std::atol(argv[3]) : 500;
    if (messages <= 0 || batch <= 0 || std::filesystem::exists(dir)) {
        std::fprintf(stderr, "email_batch: messages and batch must be positive, DIR must not exist\n");
        return 2;
    }
    std::filesystem::create_directories(dir);
    auto single = ringmail::MailQueue::open((dir / "single").string());
    auto batched = ringmail::MailQueue::open((dir / "batched").string());

    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < messages; ++i) {
        if (const auto r = ringmail::email_send(*single, message(i)); !r) {
            std::fprintf(stderr, "email_batch: %s\n", r.error.c_str());
            return 1;
        }
    }
    const double one_by_one = static_cast<double>(messages) / seconds_since(t0);

    t0 = std::chrono::steady_clock::now();
    for (long start = 0; start < messages; start += batch) {
        const auto r = ringmail::email_batch(*batched, [&](ringmail::EmailBatch& b) {
            for (long i = start; i < std::min(messages, start + batch); ++i) b.send(message(i));
        });
        if (!r) {
            std::fprintf(stderr, "email_batch: %s\n", r.error.c_str());
            return 1;
        }
    }
    const double batched_rate = static_cast<double>(messages) / seconds_since(t0);

    std::printf("messages %ld, batch %ld\n", messages, batch);
    std::printf("email_send one by one: %10.0f messages/s\n", one_by_one);
    std::printf("email_batch:           %10.0f messages/s\n", batched_rate);
    std::printf("ratio:                 %10.1fx\n", batched_rate / one_by_one);
    return 0;
}
