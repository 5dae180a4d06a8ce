// relay/queue_wake.hpp — lets another process (`ringmail queue add`, `retry`, `flush`)
// wake a running delivery engine: the engine holds the FIFO queue_dir/wake open for
// reading and writing (so it never reads end of file) and polls it on its ring; poke()
// writes one byte to it, and does nothing when no engine holds it open. Without a poke,
// such messages wait for the engine's one-second tick.
#pragma once
#include <functional>
#include <string>

#include "io/fd_poll.hpp"
#include "io/ring.hpp"

namespace ringmail::relay {

class QueueWake {
public:
    // Makes the FIFO when missing. Throws std::runtime_error naming the path.
    QueueWake(io::Ring& ring, const std::string& queue_dir, std::function<void()> woken);
    QueueWake(const QueueWake&) = delete;
    QueueWake& operator=(const QueueWake&) = delete;

    void arm() noexcept { poll_.arm(); }        // on the ring's thread, after Ring::start()
    void cancel() noexcept { poll_.cancel(); }  // before the ring's loop ends

    // From any process: wakes the engine of `queue_dir`, if one runs. Never blocks.
    static void poke(const std::string& queue_dir) noexcept;

private:
    struct Fifo {  // closed however construction ends
        int fd;
        ~Fifo();
    };
    static int open_fifo(const std::string& queue_dir);
    void drain() noexcept;

    Fifo fifo_;
    std::function<void()> woken_;
    io::FdPoll poll_;
};

}  // namespace ringmail::relay
