// base/metrics.hpp — what the server counts for GET /metrics (issue 15): `Counter`, a value
// written by one thread only and read by any, and `Snapshot`, the sums a scrape renders.
// Invariant: a hot path never takes a lock or writes a cache line another thread writes;
// each reactor and the relay engine own their counters (alignas(64) structs in smtpd/ and
// relay/), and a scrape sums them.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>

namespace ringmail::metrics {

// One writer: a relaxed load and store (no locked read-modify-write); readers on other
// threads see some recent value, never a torn one.
class Counter {
public:
    void add(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void sub(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
    std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// Upper bounds (seconds) of the delivery latency histogram: from queue entry to a final
// result; queue times are whole seconds, so the smallest bucket is one second. The last
// counter of a histogram is +Inf.
inline constexpr std::array<std::uint64_t, 10> kLatencyBuckets = {1, 5, 15, 60, 300, 900, 3600, 14400, 86400, 432000};

// The process's totals at one scrape (the queue depth is read from the store by http/).
struct Snapshot {
    // SMTP, summed over the reactors.
    std::uint64_t connections_accepted = 0, connections_open = 0;
    std::uint64_t messages_received = 0, messages_accepted = 0, messages_rejected = 0;
    std::uint64_t bytes_accepted = 0;
    std::uint64_t tls_ok = 0, tls_failed = 0;
    // The relay engine.
    std::uint64_t delivery_sent = 0, delivery_deferred = 0, delivery_bounced = 0;
    std::uint64_t relay_connections_open = 0;
    std::array<std::uint64_t, kLatencyBuckets.size() + 1> latency{};  // per bucket, not cumulative
    std::uint64_t latency_sum = 0;                                    // seconds
};

}  // namespace ringmail::metrics
