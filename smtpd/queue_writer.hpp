// smtpd/queue_writer.hpp — the `queue` handler: messages go into the relay's durable queue
// (relay::Store) before their 250 (invariant 6), many at a time in one group commit, and
// the relay is told at once so that it delivers them.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/workers.hpp"
#include "relay/store.hpp"
#include "smtpd/job.hpp"

namespace ringmail::smtpd {

class QueueWriter final : public JobSink {
public:
    // `store` is used by the writer thread only. `queued` runs on that thread after each
    // commit that queued something (the relay's wake-up).
    QueueWriter(std::unique_ptr<relay::Store> store, std::string hostname, std::function<void()> queued);
    ~QueueWriter() override;
    bool submit(std::unique_ptr<Job>& job) noexcept override;
    void stop() override;

private:
    void commit(std::vector<std::unique_ptr<Job>>& batch);

    std::unique_ptr<relay::Store> store_;
    std::string hostname_;
    std::function<void()> queued_;
    std::uint64_t counter_ = 0;
    std::vector<relay::NewMessage> messages_;  // reused batch to batch
    std::vector<relay::MessageId> ids_;
    std::optional<io::Workers<std::unique_ptr<Job>>> writer_;  // last: its thread uses the above
};

}  // namespace ringmail::smtpd
