// smtpd/handler_pool.hpp — threads that run the user's on_rcpt / on_auth / on_mail,
// fed by one lock-free queue from all reactors. Handler code never runs on a reactor
// (invariant 1); a slow handler only delays the sessions waiting on it.
#pragma once
#include <chrono>

#include "smtpd/handlers.hpp"
#include "smtpd/job.hpp"
#include "io/workers.hpp"

namespace ringmail::smtpd {

struct Handlers {
    OnMail on_mail;
    OnRcpt on_rcpt;  // empty: accept every recipient without leaving the reactor
    OnAuth on_auth;  // empty: accept every login without leaving the reactor
    MailParts parts = MailParts::Split;  // what on_mail reads (mime = auto)
};

class HandlerPool final : public JobSink {
public:
    // `max_queued`: jobs that may wait for a thread; past it submit() refuses (shed load).
    HandlerPool(Handlers handlers, unsigned threads, std::size_t max_queued);
    ~HandlerPool() override;
    bool submit(std::unique_ptr<Job>& job) noexcept override;
    void stop() override;
    // Stops by `deadline` (the end of the shutdown grace): the number of threads still
    // inside a handler then, detached; a pool that returns non-zero must be leaked.
    std::size_t stop_by(std::chrono::steady_clock::time_point deadline) { return workers_.stop_by(deadline); }

private:
    void run(Job& job);

    Handlers handlers_;
    io::Workers<std::unique_ptr<Job>> workers_;  // last: its threads use handlers_
};

}  // namespace ringmail::smtpd
