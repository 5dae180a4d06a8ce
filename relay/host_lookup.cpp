// relay/host_lookup.cpp — getaddrinfo(3) on a detached thread per lookup; the answer comes
// back through a slot under a mutex and the caller's wake. An IP address takes the
// AI_NUMERICHOST path, which asks no resolver, on the caller's thread. Invariant: `wake`
// in the shared slot is cleared (under its mutex) before the HostLookup stops waiting.
#include "relay/host_lookup.hpp"

#include <netdb.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

namespace ringmail::relay {

struct HostLookup::Shared {
    std::mutex mutex;
    std::function<void()> wake;  // empty once the HostLookup has given the lookup up
    std::optional<Route> answer;
};

namespace {

Route temp_fail(std::string reason) {
    Route r;
    r.kind = Route::Kind::TempFail;
    r.reason = std::move(reason);
    return r;
}

// getaddrinfo's answer as a route (a TempFail naming the cause when there is none).
// Returns getaddrinfo's code: with AI_NUMERICHOST, EAI_NONAME says `host` is a name.
int lookup(const std::string& host, const std::string& port, int flags, Route& r) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = flags;
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
    if (rc != 0) {
        r = temp_fail(host + ": " + (rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc)));
        return rc;
    }
    for (addrinfo* a = list; a; a = a->ai_next) {
        Target t;
        t.host = host;
        std::memcpy(&t.addr, a->ai_addr, a->ai_addrlen);
        t.len = a->ai_addrlen;
        r.targets.push_back(t);
    }
    ::freeaddrinfo(list);
    return 0;
}

}  // namespace

HostLookup::HostLookup(std::function<void()> wake) : wake_(std::move(wake)) {}

HostLookup::~HostLookup() { abandon(); }

void HostLookup::abandon() noexcept {
    if (!shared_) return;
    {
        std::lock_guard lock(shared_->mutex);
        shared_->wake = nullptr;  // from now on the thread drops its answer
    }
    shared_.reset();  // outside the lock: this may be the last owner
}

void HostLookup::start(const std::string& host, const std::string& port, std::uint64_t now_ms) {
    if (shared_) return;
    Route numeric;
    if (lookup(host, port, AI_NUMERICHOST, numeric) != EAI_NONAME) {
        ready_ = std::move(numeric);  // an IP address (or a bad port): no resolver asked
        return;
    }
    try {
        auto shared = std::make_shared<Shared>();
        shared->wake = wake_;
        std::thread([shared, host, port] {
            Route r;
            lookup(host, port, 0, r);
            std::lock_guard lock(shared->mutex);
            if (!shared->wake) return;  // given up meanwhile
            shared->answer = std::move(r);
            shared->wake();
        }).detach();
        shared_ = std::move(shared);
    } catch (const std::exception& e) {  // no thread (or no memory): try again later
        ready_ = temp_fail(host + ": cannot start a lookup: " + e.what());
        return;
    }
    host_ = host;
    started_ms_ = now_ms;
}

std::optional<Route> HostLookup::take() {
    if (!ready_ && shared_) {
        {
            std::lock_guard lock(shared_->mutex);
            if (!shared_->answer) return std::nullopt;
            ready_ = std::move(shared_->answer);
        }
        shared_.reset();
    }
    std::optional<Route> out = std::move(ready_);
    ready_.reset();
    return out;
}

void HostLookup::expire(std::uint64_t now_ms, std::uint64_t timeout_ms) {
    if (!shared_ || now_ms < started_ms_ + timeout_ms) return;
    {
        std::lock_guard lock(shared_->mutex);
        if (shared_->answer) return;  // just in time: take() has it
    }
    abandon();
    ready_ = temp_fail(host_ + ": no answer from the system's resolver in " + std::to_string(timeout_ms / 1000) + " s");
}

}  // namespace ringmail::relay
