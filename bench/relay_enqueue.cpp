// bench/relay_enqueue.cpp — durable enqueue rate of relay::SqliteStore: N messages of a
// given size in batches (each batch one group commit: body files, syncfs or fdatasync,
// directory fsync, one SQLite transaction). Wall clock, because the cost is the disk's.
// Usage: relay_enqueue DIR [messages=10000] [batch=100] [size=1024]   (DIR must not exist)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "relay/sqlite_store.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: relay_enqueue DIR [messages] [batch] [size]\n");
        return 2;
    }
    const std::string dir = argv[1];
    const long messages = argc > 2 ? std::atol(argv[2]) : 10000;
    const long batch_size = argc > 3 ? std::atol(argv[3]) : 100;
    const long size = argc > 4 ? std::atol(argv[4]) : 1024;
    if (messages <= 0 || batch_size <= 0 || size < 0) {
        std::fprintf(stderr, "relay_enqueue: messages and batch must be positive\n");
        return 2;
    }
    ringmail::relay::SqliteStoreOptions o;
    o.dir = dir;
    auto store = ringmail::relay::SqliteStore::open(o);
    std::vector<ringmail::relay::NewMessage> batch(static_cast<std::size_t>(batch_size));
    for (std::size_t i = 0; i < batch.size(); ++i) {
        batch[i].sender = "bench@example.org";
        batch[i].recipients = {"rcpt" + std::to_string(i) + "@example.com"};
        batch[i].body = std::string(static_cast<std::size_t>(size), 'x');
    }
    std::vector<ringmail::relay::MessageId> ids;
    const std::uint64_t commits_before = store->commits();
    const auto start = std::chrono::steady_clock::now();
    long done = 0;
    while (done < messages) {
        const auto n = static_cast<std::size_t>(std::min(batch_size, messages - done));
        const auto r = store->enqueue({batch.data(), n}, 1800000000, ids);
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
