// smtpd/job.hpp — work a reactor hands off (a recipient, a login or a message to decide)
// and the answer that comes back. A job names its connection by (reactor number, slot,
// generation), never by pointer: the answer for a connection that closed meanwhile finds
// a dead name and is dropped (invariant 8). The answer goes home through the reactor's
// mailbox (invariant 2).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "io/slot_table.hpp"
#include "mime/mail.hpp"
#include "proto/server_session.hpp"

namespace ringmail::smtpd {

struct Home {
    unsigned reactor = 0;  // index into Shared::inboxes
    io::SlotId conn;
    std::uint32_t seq = 0; // the connection's job number: an answer after a timeout is stale
};

// Set false by the reactor when the connection closes: a job still queued for it is
// skipped (nobody will read its answer). Shared by the connection and its jobs only.
using Liveness = std::shared_ptr<std::atomic<bool>>;

// Message bytes counted against max_inflight_bytes (Shared::inflight) while a job holds
// them; given back when the job is done with, on whichever thread that is.
struct Charge {
    std::atomic<std::uint64_t>* pool = nullptr;
    std::uint64_t bytes = 0;
    Charge() = default;
    Charge(const Charge&) = delete;
    Charge& operator=(const Charge&) = delete;
    ~Charge() { release(); }
    void release() noexcept {
        if (pool && bytes) pool->fetch_sub(bytes, std::memory_order_relaxed);
        bytes = 0;
    }
};

struct Job {
    enum class Kind : std::uint8_t { Rcpt, Auth, Mail };
    Kind kind = Kind::Mail;
    Home home;
    Liveness alive;
    bool dead() const noexcept { return alive && !alive->load(std::memory_order_acquire); }
    std::string a, b;  // the recipient; or the user name and password
    Mail mail;
    Charge charge;  // the message's bytes, while the job lives
};

struct JobDone {
    io::SlotId conn;
    std::uint32_t seq = 0;
    proto::Outcome outcome = proto::Outcome::Accept;
    std::string text;
};

// Sends a job's answer home to its reactor; callable from any thread.
void complete(Job& job, proto::Outcome outcome, std::string text = {});

// A consumer of jobs off the reactors: the handler pool or the Maildir writer.
class JobSink {
public:
    virtual ~JobSink() = default;
    // Never blocks; false when the sink is full (the reactor answers 451/454).
    virtual bool submit(std::unique_ptr<Job>& job) noexcept = 0;
    // Finishes the queued jobs and stops the threads.
    virtual void stop() = 0;
};

}  // namespace ringmail::smtpd
