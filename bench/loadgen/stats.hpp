// bench/loadgen/stats.hpp — what one generator thread counts; main merges them. Every
// transaction started ends as exactly one of ok or failed, so sent = ok + failed.
#pragma once

#include <cstdint>
#include <map>

#include "histogram.hpp"

namespace ringmail::bench {

// Error keys: a reply code (>= 400, or an unexpected 2xx/3xx), or one of these.
enum : int { kErrClosed = -1, kErrConnect = -2, kErrTimeout = -3, kErrProtocol = -4 };

struct Stats {
    std::uint64_t sent = 0;     // transactions finished (ok + failed)
    std::uint64_t ok = 0;       // every reply as expected, the last one 250
    std::uint64_t failed = 0;
    std::uint64_t unsent = 0;   // due (or in quota) but never started: no connection left, time up
    std::uint64_t bytes_ok = 0; // message bytes (before stuffing) of the ok transactions
    std::uint64_t connects = 0;          // connection attempts
    std::uint64_t connection_errors = 0; // refused, reset, closed by the server, bad greeting
    std::uint64_t abandoned = 0;         // connections given up after repeated errors
    std::uint64_t with_pipelining = 0;   // sessions where the server offered PIPELINING
    std::uint64_t with_chunking = 0;     // ... and CHUNKING
    std::uint64_t sessions = 0;          // sessions that got through EHLO
    std::uint64_t tls_handshakes = 0;    // --starttls: completed handshakes
    std::map<int, std::uint64_t> errors; // transaction failures and connection errors by cause
    Histogram latency;                   // ns per transaction, ok or failed
    std::uint64_t load_start_ns = 0;     // when this thread began offering load
    std::uint64_t last_done_ns = 0;      // when its last transaction finished
    bool time_up = false;                // the time bound stopped it, not the message count

    void merge(const Stats& o) {
        sent += o.sent; ok += o.ok; failed += o.failed; unsent += o.unsent; bytes_ok += o.bytes_ok;
        connects += o.connects; connection_errors += o.connection_errors; abandoned += o.abandoned;
        with_pipelining += o.with_pipelining; with_chunking += o.with_chunking; sessions += o.sessions;
        tls_handshakes += o.tls_handshakes;
        for (const auto& [k, v] : o.errors) errors[k] += v;
        latency.merge(o.latency);
        if (o.load_start_ns && (!load_start_ns || o.load_start_ns < load_start_ns)) load_start_ns = o.load_start_ns;
        if (o.last_done_ns > last_done_ns) last_done_ns = o.last_done_ns;
        time_up = time_up || o.time_up;
    }
};

}  // namespace ringmail::bench
