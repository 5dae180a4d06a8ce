// bench/floor/worker.hpp — one thread and one io_uring of the null SMTP server: multishot accept
// on this thread's SO_REUSEPORT listener, multishot recv into a provided-buffer ring, the
// Scanner's canned replies, and one send per connection per batch of completions.
// Written on liburing directly, not on io/, so that it measures the kernel and not our layers.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "bench/floor/scanner.hpp"

namespace ringmail::floor {

class Worker {
public:
    // Takes `listen_fd` (listening already) and `wake_fd` (an eventfd: a write ends run()).
    Worker(int listen_fd, int wake_fd) noexcept : listen_fd_(listen_fd), wake_fd_(wake_fd) {}
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Sets up the ring on the calling thread (it becomes the ring's one issuer); returns 0 or
    // a negative errno.
    int setup() noexcept;
    // Serves until wake_fd is written; returns 0, or a negative errno from io_uring_enter.
    int run() noexcept;

    static constexpr unsigned kEntries = 4096;          // as ringmail's reactors
    static constexpr unsigned kBufCount = 256;          // receive buffers, shared by all connections
    static constexpr unsigned kBufSize = 32 * 1024;     // the same count and size as ringmail's
    static constexpr std::size_t kOutSize = 4096;       // per connection: replies not yet sent
    static constexpr unsigned kMaxHeld = 8;             // buffers one unread-replies client may hold

private:
    struct Conn {
        int fd = -1;
        std::uint32_t gen = 0;
        bool recv_armed = false;
        bool send_inflight = false;
        bool closing = false;         // no more input: send what is left (the 221), then close
        bool failed = false;          // the peer is gone: nothing more is sent either
        bool cancel_sent = false;
        bool paused = false;          // `out` was full: recv cancelled until it drains
        bool dirty = false;           // in dirty_ for the end of this batch
        Output out{nullptr, kOutSize, 0};
        std::unique_ptr<char[]> out_mem;  // one per slot, kept across connections
        Scanner scanner;
        int held_head = -1, held_tail = -1;  // received buffers not read yet (out was full)
        std::uint32_t held_off = 0;          // bytes of held_head already read
        unsigned held_count = 0;
    };

    void on_cqe(const io_uring_cqe& cqe) noexcept;
    void on_accept(const io_uring_cqe& cqe) noexcept;
    void on_recv(Conn& c, const io_uring_cqe& cqe) noexcept;
    void on_send(Conn& c, const io_uring_cqe& cqe) noexcept;
    void feed_held(Conn& c) noexcept;
    void drop_held(Conn& c) noexcept;
    void fail(Conn& c) noexcept;
    void mark(Conn& c, std::uint32_t slot) noexcept;
    void flush() noexcept;
    void flush_one(Conn& c, std::uint32_t slot) noexcept;
    void arm_accept() noexcept;
    void arm_recv(Conn& c, std::uint32_t slot) noexcept;
    void arm_wake() noexcept;
    void recycle(unsigned bid) noexcept;
    io_uring_sqe* sqe() noexcept;

    int listen_fd_;
    int wake_fd_;
    io_uring ring_{};
    bool ring_ok_ = false;
    io_uring_buf_ring* br_ = nullptr;
    char* bufs_ = nullptr;
    unsigned recycled_ = 0;            // buffers handed back since the last publish
    unsigned held_next_[kBufCount];    // chains of held buffers, by buffer id
    unsigned held_len_[kBufCount];
    bool accept_armed_ = false;
    bool stop_ = false;
    std::uint64_t wake_value_ = 0;
    std::vector<Conn> conns_;          // grows to the most connections open at once, never shrinks
    std::vector<std::uint32_t> free_;  // free slots in conns_
    std::vector<std::uint32_t> dirty_; // connections with something to do at the end of the batch
};

}  // namespace ringmail::floor
