// relay/host_lookup.hpp — a host name (the smarthost's) to its addresses with getaddrinfo(3)
// on a thread of its own, so a slow DNS server never stalls the engine's ring. It is the
// system's resolver as configured (/etc/hosts, nsswitch.conf, resolv.conf), so `localhost`
// works as it does everywhere else; an IP address is answered at once, never looked up.
// Invariant: the lookup thread calls `wake` only while its HostLookup still waits for it.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "relay/relay.hpp"

namespace ringmail::relay {

class HostLookup {
public:
    // `wake`: called on the lookup's thread when an answer is ready (the engine's
    // Mailbox::wake, so that its loop turns and calls take()); never once the HostLookup
    // has given the lookup up (expire, the destructor).
    explicit HostLookup(std::function<void()> wake);
    ~HostLookup();  // a lookup under way is given up; its thread ends on its own
    HostLookup(const HostLookup&) = delete;
    HostLookup& operator=(const HostLookup&) = delete;

    // Starts resolving `host` (a name or an IP address) for `port`, one lookup at a time
    // (ignored while one is under way). An IP address, or a thread that cannot start, is
    // answered before start() returns: take() has it.
    void start(const std::string& host, const std::string& port, std::uint64_t now_ms);
    bool busy() const noexcept { return shared_ != nullptr; }
    // The answer, once (nullopt while none has come). On the caller's thread.
    std::optional<Route> take();
    // Gives up a lookup started `timeout_ms` or more before `now_ms`: take() then answers
    // TempFail. getaddrinfo has its own timeouts, but an NSS module may have none.
    void expire(std::uint64_t now_ms, std::uint64_t timeout_ms);

private:
    struct Shared;  // between the caller and one lookup thread
    void abandon() noexcept;

    std::function<void()> wake_;
    // XXX: shared with the detached lookup thread, the one shared_ptr across threads here:
    // joining it would hold up the engine's shutdown for as long as getaddrinfo takes.
    std::shared_ptr<Shared> shared_;
    std::optional<Route> ready_;
    std::string host_;
    std::uint64_t started_ms_ = 0;
};

}  // namespace ringmail::relay
