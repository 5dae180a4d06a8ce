// io/ring_writer.hpp — text appended to a descriptor (stderr: the log). A pipe, socket or
// terminal (journald, a shell) is written through the ring: the write goes in the same
// io_uring_enter as the turn's sends, so a log line per message costs no system call; one
// write in flight at a time (so lines keep their order), what is posted meanwhile waiting in
// a second buffer. A regular file is not: ext4 cannot take a buffered write without
// blocking, so io_uring hands each one to a kernel worker thread (measured: every one went
// there); it gets a write(2) per post, at once, so that several reactors' lines stay in the
// order they happened.
// A descriptor that takes nothing (closed, full disk) loses the text: a log must never
// stall the loop. Invariant: `inflight_` is not touched while a write is out.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/ring.hpp"

namespace ringmail::io {

class RingWriter final : public Handler {
public:
    // Registers itself on `ring` (like every Handler, for the ring's lifetime). `fd` is
    // borrowed.
    RingWriter(Ring& ring, int fd);
    // Takes the bytes of `text` (it is left empty, its capacity kept) to write after what
    // was posted before. On the ring's thread.
    void post(std::string& text) noexcept;
    bool busy() const noexcept { return busy_; }
    // At the end of the loop: turns the ring (bounded, up to `max_ms`) until the write in
    // flight is done, then writes what waits with write(2).
    void finish(std::uint64_t max_ms = 1000) noexcept;
    // Bytes given up since the start (the descriptor refused them, or more than
    // kMaxPending waited).
    std::uint64_t lost() const noexcept { return lost_; }
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override;

    static constexpr std::size_t kMaxPending = 8u << 20;

private:
    void start() noexcept;
    void write_now(std::string& text) noexcept;  // write(2), all of it or what the fd takes

    Ring& ring_;
    int fd_;
    std::uint8_t id_;
    bool file_ = false;     // a regular file (or block device): write(2) at once
    std::string inflight_;  // being written, from off_
    std::size_t off_ = 0;
    std::string pending_;   // posted while a write was out
    bool busy_ = false;
    std::uint64_t lost_ = 0;
};

}  // namespace ringmail::io
