// relay/queue_wake.hpp — lets another process (`ringmail queue add`, `retry`, `flush`)
// wake a running delivery engine: the engine holds the FIFO queue_dir/wake open for
// reading and writing (so it never reads end of file) and polls it on its ring; poke()
// writes one byte to it, and does nothing when no engine holds it open. Without a poke,
// such messages wait for the engine's one-second tick.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "io/ring.hpp"

namespace ringmail::relay {

class QueueWake final : public io::Handler {
public:
    // Makes the FIFO when missing. Throws std::runtime_error naming the path.
    QueueWake(io::Ring& ring, const std::string& queue_dir, std::function<void()> woken);
    ~QueueWake();
    QueueWake(const QueueWake&) = delete;
    QueueWake& operator=(const QueueWake&) = delete;
    void arm() noexcept;     // on the ring's thread, after Ring::start()
    void cancel() noexcept;  // before the ring's loop ends
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override;

    // From any process: wakes the engine of `queue_dir`, if one runs. Never blocks.
    static void poke(const std::string& queue_dir) noexcept;

private:
    io::Ring& ring_;
    std::function<void()> woken_;
    int fd_ = -1;
    std::uint8_t id_;
    bool armed_ = false;
    bool cancelled_ = false;
};

}  // namespace ringmail::relay
