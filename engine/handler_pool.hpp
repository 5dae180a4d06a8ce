// engine/handler_pool.hpp — threads that run the user's on_rcpt / on_auth / on_mail,
// fed by one lock-free queue from all reactors. Handler code never runs on a reactor
// (invariant 1); a slow handler only delays the sessions waiting on it.
#pragma once
#include <atomic>
#include <thread>
#include <vector>

#include "engine/handlers.hpp"
#include "engine/job.hpp"
#include "engine/mpmc_queue.hpp"

namespace ringmail::engine {

struct Handlers {
    OnMail on_mail;
    OnRcpt on_rcpt;  // empty: accept every recipient without leaving the reactor
    OnAuth on_auth;  // empty: accept every login without leaving the reactor
};

class HandlerPool final : public Sink {
public:
    HandlerPool(Handlers handlers, unsigned threads);
    ~HandlerPool() override;
    bool submit(std::unique_ptr<Job>& job) noexcept override;
    void stop() override;

private:
    void work();
    void run(Job& job);

    Handlers handlers_;
    MpmcQueue<std::unique_ptr<Job>> queue_{1u << 16};
    Doorbell bell_;
    std::atomic<bool> running_{true};
    std::vector<std::thread> threads_;
};

}  // namespace ringmail::engine
