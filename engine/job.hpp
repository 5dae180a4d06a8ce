// engine/job.hpp — work a reactor hands off (a recipient, a login or a message to decide)
// and the verdict that comes back. Jobs travel through MpmcQueue; the verdict returns to
// the reactor that owns the connection (invariant 2).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/mail.hpp"
#include "proto/server_session.hpp"

namespace ringmail::engine {

class Reactor;
struct Connection;

struct Job {
    enum class Kind : std::uint8_t { Rcpt, Auth, Mail };
    Kind kind = Kind::Mail;
    Reactor* reactor = nullptr;
    Connection* conn = nullptr;
    std::string a, b;  // the recipient; or the user name and password
    Mail mail;
};

struct Result {
    Connection* conn = nullptr;
    proto::Outcome outcome = proto::Outcome::Accept;
    std::string text;
};

// Sends a job's verdict home to its reactor; callable from any thread.
void complete(Job& job, proto::Outcome outcome, std::string text = {});

// A consumer of jobs off the reactors: the handler pool or the Maildir writer.
class Sink {
public:
    virtual ~Sink() = default;
    // Never blocks; false when the sink is full (the reactor answers 451/454).
    virtual bool submit(std::unique_ptr<Job>& job) noexcept = 0;
    // Finishes the queued jobs and stops the threads.
    virtual void stop() = 0;
};

}  // namespace ringmail::engine
