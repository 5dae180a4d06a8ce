// smtpd/maildir.hpp — the `maildir:DIR` handler: a standard Maildir delivery (write into
// tmp/, sync, rename into new/, sync new/) before the 250 (invariant 6). One writer thread
// commits whatever has queued up as one group: many messages share one round of syncs.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "smtpd/job.hpp"
#include "io/workers.hpp"

namespace ringmail::smtpd {

class MaildirWriter final : public JobSink {
public:
    // Creates DIR/{tmp,new,cur} as needed; throws std::runtime_error naming the problem.
    MaildirWriter(std::string dir, std::string hostname);
    ~MaildirWriter() override;
    bool submit(std::unique_ptr<Job>& job) noexcept override;
    void stop() override;

private:
    void commit(std::vector<std::unique_ptr<Job>>& batch);
    bool ensure_dirs();
    std::string unique_name(std::size_t size);

    std::string dir_;
    std::string hostname_;
    int tmp_fd_ = -1;
    int new_fd_ = -1;
    std::uint64_t counter_ = 0;
    // One writer thread; a batch of at most 512 shares one round of syncs. Last: its
    // thread uses the members above.
    std::optional<io::Workers<std::unique_ptr<Job>>> writer_;
};

// "Return-Path" and "Received" trace fields (RFC 5321 4.4) prepended to the stored copy,
// with one Delivered-To per recipient (final delivery keeps the envelope).
std::string trace_header(const Mail& mail, const std::string& hostname, const std::string& id);
// The "Received" field alone, as a relay adds it.
std::string received_field(const Mail& mail, const std::string& hostname, const std::string& id);

}  // namespace ringmail::smtpd
