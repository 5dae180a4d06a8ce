// smtpd/handler_pool.cpp — the worker loop: pop, run the handler, post the verdict home.
// An exception from a handler becomes a temporary failure, never a lost connection.
#include "smtpd/handler_pool.hpp"

#include <exception>
#include <string>

#include "base/log.hpp"

namespace ringmail::smtpd {

HandlerPool::HandlerPool(Handlers handlers, unsigned threads, std::size_t max_queued)
    : handlers_(std::move(handlers)),
      workers_(threads, 1, [this](std::vector<std::unique_ptr<Job>>& batch) { for (auto& job : batch) run(*job); },
               max_queued) {}

HandlerPool::~HandlerPool() { stop(); }

bool HandlerPool::submit(std::unique_ptr<Job>& job) noexcept { return workers_.submit(job); }

void HandlerPool::stop() { workers_.stop(); }

void HandlerPool::run(Job& job) {
    using proto::Outcome;
    // The client is gone: no handler runs (no password hash, no on_mail for a message
    // nobody was told was accepted); the answer still goes home so the reactor counts it.
    if (job.dead()) return complete(job, Outcome::TempFail);
    try {
        switch (job.kind) {
        case Job::Kind::Rcpt:
            complete(job, handlers_.on_rcpt(job.a) ? Outcome::Accept : Outcome::Reject);
            return;
        case Job::Kind::Auth:
            complete(job, handlers_.on_auth(job.a, job.b) ? Outcome::Accept : Outcome::Reject);
            return;
        case Job::Kind::Mail: {
            Verdict v = handlers_.on_mail(job.mail);
            const Outcome o = v.kind == Verdict::Kind::Accept   ? Outcome::Accept
                              : v.kind == Verdict::Kind::TempFail ? Outcome::TempFail
                                                                  : Outcome::Reject;
            complete(job, o, std::move(v.text));
            return;
        }
        }
    } catch (const std::exception& e) {
        log::note(std::string("handler failed: ") + e.what());
    } catch (...) {
        log::note("handler failed");
    }
    complete(job, Outcome::TempFail, "Handler failed, try again later");
}

}  // namespace ringmail::smtpd
