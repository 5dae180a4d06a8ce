// smtpd/counters.hpp — one reactor's counters for /metrics: written by that reactor's thread
// only, read by a scrape on the HTTP thread. alignas(64): no other reactor's writes share its
// cache line.
#pragma once
#include "base/metrics.hpp"

namespace ringmail::smtpd {

struct alignas(64) ReactorCounters {
    metrics::Counter connections_accepted, connections_open;
    metrics::Counter messages_received, messages_accepted, messages_rejected;  // rejected: 4xx or 5xx
    metrics::Counter bytes_accepted;
    metrics::Counter tls_ok, tls_failed;

    void add_to(metrics::Snapshot& s) const noexcept {
        s.connections_accepted += connections_accepted.get();
        s.connections_open += connections_open.get();
        s.messages_received += messages_received.get();
        s.messages_accepted += messages_accepted.get();
        s.messages_rejected += messages_rejected.get();
        s.bytes_accepted += bytes_accepted.get();
        s.tls_ok += tls_ok.get();
        s.tls_failed += tls_failed.get();
    }
};

}  // namespace ringmail::smtpd
