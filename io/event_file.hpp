// io/event_file.hpp — a file of lines appended by a thread of its own, so that the threads
// that produce them (reactors, the relay engine) never wait on the disk: post() hands a
// batch of whole lines to a bounded lock-free queue and wakes the writer; each batch is
// one write(2) to an O_APPEND descriptor, so lines never interleave. A full queue drops
// the batch (counted; the writer notes it on stderr) rather than block a reactor.
// reopen() (SIGUSR1, after logrotate moved the file) opens the path again between writes.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "io/mpmc_queue.hpp"

namespace ringmail::io {

class EventFile {
public:
    // Opens (creates, mode 0640) `path` for appending and starts the writer; throws
    // std::runtime_error naming the path when it cannot.
    explicit EventFile(std::string path, std::size_t capacity_pow2 = 4096);
    ~EventFile();  // writes what was posted, then joins the writer
    EventFile(const EventFile&) = delete;
    EventFile& operator=(const EventFile&) = delete;

    // From any thread: `lines` (each ending in '\n') are written soon. Moves from `lines`
    // (left empty either way); never blocks.
    void post(std::string& lines) noexcept;
    void reopen() noexcept;  // from any thread
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

private:
    void run() noexcept;
    void wake() noexcept;
    void drain() noexcept;

    std::string path_;
    int fd_ = -1;
    MpmcQueue<std::string> queue_;
    std::atomic<bool> pending_{false};  // posts (or a reopen, or the stop) since the last drain
    std::atomic<bool> reopen_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> dropped_{0};
    std::thread thread_;
};

}  // namespace ringmail::io
