// http/metrics.hpp — GET /metrics: the server's counters (metrics::Snapshot, summed from the
// reactors and the relay engine at scrape time) and the queue depth (one GROUP BY count in
// the store) in the Prometheus text exposition format 0.0.4: # HELP and # TYPE lines,
// `ringmail_` names in base units (seconds, bytes), counters ending in _total.
#pragma once
#include <functional>
#include <span>
#include <string>

#include "base/metrics.hpp"
#include "http/response.hpp"
#include "relay/store.hpp"

namespace ringmail::http {

// From the HTTP thread: the process's totals now (reads atomics; takes no lock).
using MetricsSource = std::function<metrics::Snapshot()>;

// The exposition text; `depth` may be empty (a series for each status and priority anyway).
std::string render_metrics(const metrics::Snapshot& s, std::span<const relay::DepthRow> depth);

// The whole answer: 200 text/plain; version=0.0.4, or 500 when the store cannot be read.
Response metrics_response(const MetricsSource& source, relay::Store& store);

}  // namespace ringmail::http
