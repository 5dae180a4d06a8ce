// relay/counters.hpp — the delivery engine's counters for /metrics: written by the engine's
// thread only, read by a scrape on the HTTP thread (alignas(64): a line of their own).
#pragma once
#include <algorithm>

#include "base/metrics.hpp"

namespace ringmail::relay {

struct alignas(64) RelayCounters {
    metrics::Counter sent, deferred, bounced;  // one per recipient and attempt
    metrics::Counter connections_open;
    std::array<metrics::Counter, metrics::kLatencyBuckets.size() + 1> latency;  // last: +Inf
    metrics::Counter latency_sum;

    // A final result (sent or bounced) `seconds` after the message was queued.
    void observe_latency(std::uint64_t seconds) noexcept {
        const auto* b = std::lower_bound(metrics::kLatencyBuckets.begin(), metrics::kLatencyBuckets.end(), seconds);
        latency[static_cast<std::size_t>(b - metrics::kLatencyBuckets.begin())].add();
        latency_sum.add(seconds);
    }
    void add_to(metrics::Snapshot& s) const noexcept {
        s.delivery_sent += sent.get();
        s.delivery_deferred += deferred.get();
        s.delivery_bounced += bounced.get();
        s.relay_connections_open += connections_open.get();
        for (std::size_t i = 0; i < latency.size(); ++i) s.latency[i] += latency[i].get();
        s.latency_sum += latency_sum.get();
    }
};

}  // namespace ringmail::relay
