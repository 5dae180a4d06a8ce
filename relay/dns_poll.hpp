// relay/dns_poll.hpp — drives a Resolver from an io::Ring: a multishot poll on the
// resolver's fd(), and process() on every completion, so DNS answers arrive on the ring's
// thread like any other completion. Re-armed when the kernel ends the multishot.
#pragma once
#include <cstdint>

#include "io/ring.hpp"
#include "relay/dns.hpp"

namespace ringmail::relay {

class DnsPoll final : public io::Handler {
public:
    // Registers itself on `ring` (one of its 255 handler numbers, for good: like every
    // io::Handler it must outlive the ring's loop). Both references are borrowed.
    DnsPoll(io::Ring& ring, Resolver& resolver);
    void arm() noexcept;     // once, on the ring's thread, after Ring::start()
    void cancel() noexcept;  // before the Resolver goes: no process() after the completion
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override;

private:
    io::Ring& ring_;
    Resolver& resolver_;
    std::uint8_t id_;
    bool armed_ = false;
    bool cancelled_ = false;
};

}  // namespace ringmail::relay
