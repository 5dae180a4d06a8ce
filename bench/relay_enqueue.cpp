// bench/relay_enqueue.cpp — durable enqueue rate of relay::SqliteStore: N messages of a
// given size in batches (each batch one group commit: body files, syncfs or fdatasync,
// directory fsync, one SQLite transaction). Wall clock, because the cost is the disk's.
// Usage: relay_enqueue DIR [messages=10000] [batch=100] [size=1024] [options]
//   --priority high|medium|low   (medium)
//   --to ADDRESS                 every message to this one recipient (else rcptN@example.com)
//   --from ADDRESS               the envelope sender (bench@example.org)
//   --not-before SECONDS         no delivery before now + SECONDS (else due at once)
// DIR must not exist for a clean rate; an existing queue is added to (the fill of
// bench/relay_priority.py and bench/relay_memory.py). "now" is the real clock, so the
// messages are due when a server opens the queue.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "relay/sqlite_store.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: relay_enqueue DIR [messages] [batch] [size] [--priority P] [--to A] [--from A] "
                     "[--not-before SECONDS]\n");
        return 2;
    }
    std::vector<std::string> pos;
    std::string priority_text = "medium", to, from = "bench@example.org";
    long not_before = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("--", 0) == 0) {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "relay_enqueue: %s needs a value\n", a.c_str());
                return 2;
            }
            const std::string v = argv[++i];
            if (a == "--priority") priority_text = v;
            else if (a == "--to") to = v;
            else if (a == "--from") from = v;
            else if (a == "--not-before") not_before = std::atol(v.c_str());
            else {
                std::fprintf(stderr, "relay_enqueue: unknown option %s\n", a.c_str());
                return 2;
            }
        } else {
            pos.push_back(a);
        }
    }
    const std::string dir = pos.at(0);
    const long messages = pos.size() > 1 ? std::atol(pos[1].c_str()) : 10000;
    const long batch_size = pos.size() > 2 ? std::atol(pos[2].c_str()) : 100;
    const long size = pos.size() > 3 ? std::atol(pos[3].c_str()) : 1024;
    const auto priority = ringmail::relay::parse_priority(priority_text);
    if (messages <= 0 || batch_size <= 0 || size < 0 || !priority) {
        std::fprintf(stderr, "relay_enqueue: messages and batch must be positive, priority high, medium or low\n");
        return 2;
    }
    ringmail::relay::SqliteStoreOptions o;
    o.dir = dir;
    auto store = ringmail::relay::SqliteStore::open(o);
    const ringmail::relay::Time now = static_cast<ringmail::relay::Time>(std::time(nullptr));
    std::vector<ringmail::relay::NewMessage> batch(static_cast<std::size_t>(batch_size));
    for (std::size_t i = 0; i < batch.size(); ++i) {
        batch[i].sender = from;
        batch[i].recipients = {to.empty() ? "rcpt" + std::to_string(i) + "@example.com" : to};
        batch[i].priority = *priority;
        if (not_before >= 0) batch[i].not_before = now + not_before;
        batch[i].body = std::string(static_cast<std::size_t>(size), 'x');
    }
    std::vector<ringmail::relay::MessageId> ids;
    const std::uint64_t commits_before = store->commits();
    const auto start = std::chrono::steady_clock::now();
    long done = 0;
    while (done < messages) {
        const auto n = static_cast<std::size_t>(std::min(batch_size, messages - done));
        const auto r = store->enqueue({batch.data(), n}, now, ids);
        if (!r) {
            std::fprintf(stderr, "relay_enqueue: %s\n", r.detail.c_str());
            return 1;
        }
        done += static_cast<long>(n);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%ld messages of %ld octets in batches of %ld: %.3f s, %.0f messages/s, %llu commits\n", messages,
                size, batch_size, s, static_cast<double>(messages) / s,
                static_cast<unsigned long long>(store->commits() - commits_before));
    return 0;
}
