// io/ring.hpp — one io_uring per thread: the submission/completion loop and the way its
// users are told about completions. Every SQE's user_data names a Handler registered on
// this ring (low 8 bits) and a payload of the handler's own (the high 56 bits), so one
// ring serves listeners, connections, timers and mailboxes without knowing what they
// are. Knows nothing of SMTP. Single issuer: all calls but the constructor come from the
// thread that runs the loop (start() makes it the issuer).
#pragma once
#include <liburing.h>

#include <array>
#include <cstdint>
#include <functional>

namespace ringmail::io {

class Handler {
public:
    // One completion of an SQE this handler prepared with Ring::prep's payload.
    virtual void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept = 0;

protected:
    ~Handler() = default;
};

// CLOCK_MONOTONIC_COARSE in milliseconds: enough for idle timeouts, and a vDSO read.
std::uint64_t monotonic_ms() noexcept;

class Ring {
public:
    // Throws std::runtime_error naming the cause when the kernel has no io_uring (or it is
    // disabled by the kernel.io_uring_disabled sysctl).
    explicit Ring(unsigned entries = 4096);
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    // On the thread that will run the loop, before anything else: that thread becomes the
    // ring's one issuer. Throws std::runtime_error when the kernel refuses.
    void start();

    // Registers a handler; its number goes into the user_data of its SQEs. At most 255.
    std::uint8_t add(Handler& h);

    io_uring_sqe* sqe() noexcept;  // never null: submits to make room when full
    // Makes room for `n` SQEs now, so that a linked chain goes in one submission.
    void reserve(unsigned n) noexcept {
        if (io_uring_sq_space_left(&ring_) < n) io_uring_submit(&ring_);
    }
    static std::uint64_t user_data(std::uint8_t handler, std::uint64_t payload) noexcept {
        return payload << 8 | handler;
    }
    // sqe() with its user_data set.
    io_uring_sqe* prep(std::uint8_t handler, std::uint64_t payload) noexcept {
        io_uring_sqe* s = sqe();
        io_uring_sqe_set_data64(s, user_data(handler, payload));
        return s;
    }
    // An SQE whose completion nobody wants (cancels, closes): dropped by the loop.
    io_uring_sqe* prep_ignored() noexcept { return prep(kIgnored, 0); }

    // One turn: submit what is queued, wait for at least one completion (at most
    // `timeout`; nullptr waits without a limit), hand every completion to its handler.
    // Returns the number handled, or a negative errno when the ring cannot go on.
    int turn(const __kernel_timespec* timeout) noexcept;
    void submit() noexcept { io_uring_submit(&ring_); }
    std::uint64_t now_ms() const noexcept { return now_; }  // read at the last turn
    io_uring& raw() noexcept { return ring_; }
    // Completion batching (Linux 6.12+, IORING_FEAT_MIN_TIMEOUT): from now on a turn's wait
    // returns once `count` completions are there, or after `min_wait_us` with at least one
    // (then as soon as one comes). After start(). False, and nothing changes, when the
    // kernel cannot; count <= 1 turns it off.
    bool set_batching(unsigned count, unsigned min_wait_us) noexcept;

private:
    static constexpr std::uint8_t kIgnored = 0;
    int enter_batched(const __kernel_timespec* timeout) noexcept;

    io_uring ring_{};
    bool registered_ = false;     // io_uring_enter names the ring by its registered index
    unsigned batch_count_ = 0;    // set_batching
    unsigned batch_wait_us_ = 0;
    std::array<Handler*, 256> handlers_{};
    unsigned count_ = 1;  // 0 is kIgnored
    std::uint64_t now_ = 0;
};

// A periodic timer on a ring: `fire` runs on the ring's thread every `period_ms`.
class Ticker final : public Handler {
public:
    Ticker(Ring& ring, std::uint64_t period_ms, std::function<void()> fire);
    void arm() noexcept;
    void on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept override;

private:
    Ring& ring_;
    std::uint8_t id_;
    __kernel_timespec period_{};
    std::function<void()> fire_;
};

}  // namespace ringmail::io
