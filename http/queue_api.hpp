// http/queue_api.hpp — the API's work on the queue: inject (http/inject → one
// relay::Store::enqueue, then a poke so the relay delivers at once), and list, show,
// remove and retry in the JSON of `ringmail queue ... --json` (api/queue_json).
// Used by the HTTP thread only (a relay::Store is used by one thread at a time); every
// call blocks on the disk.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "http/inject.hpp"
#include "http/metrics.hpp"
#include "http/response.hpp"
#include "relay/store.hpp"

namespace ringmail::http {

class QueueApi {
public:
    // `poke`: messages are due now (Relay::poke of this process).
    QueueApi(std::unique_ptr<relay::Store> store, InjectLimits limits, std::function<void()> poke);

    Response inject(std::string_view body);          // POST /api/inject/v1
    Response list(std::string_view status);          // GET /api/queue?status=...
    Response show(std::string_view id);              // GET /api/queue/ID
    Response remove(std::string_view id);            // DELETE /api/queue/ID
    Response retry(std::string_view id);             // POST /api/queue/ID/retry
    Response metrics(const MetricsSource& source);   // GET /metrics (the queue depth is ours)

private:
    std::unique_ptr<relay::Store> store_;
    InjectLimits limits_;
    std::function<void()> poke_;
};

}  // namespace ringmail::http
