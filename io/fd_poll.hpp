// io/fd_poll.hpp — a descriptor watched from an io::Ring: a multishot poll for POLLIN, and
// `ready` on the ring's thread at every readiness (it must read what is there: the poll is
// level-triggered). Re-armed when the kernel ends the multishot; an error ends it for good
// (re-arming would fail again at once, and spin). What the relay uses for libunbound's
// result pipe and the queue's wake FIFO.
#pragma once
#include <cstdint>
#include <functional>

#include "io/ring.hpp"

namespace ringmail::io {

class FdPoll final : public Handler {
public:
    // Registers itself on `ring` (one of its 255 handler numbers, for good: like every
    // Handler it must outlive the ring's loop). `fd` is borrowed: its owner closes it after
    // cancel() and the ring's end.
    FdPoll(Ring& ring, int fd, std::function<void()> ready);
    void arm() noexcept;     // on the ring's thread, after Ring::start()
    void cancel() noexcept;  // no `ready` after this
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override;

private:
    Ring& ring_;
    int fd_;
    std::function<void()> ready_;
    std::uint8_t id_;
    bool armed_ = false;
    bool cancelled_ = false;
};

}  // namespace ringmail::io
