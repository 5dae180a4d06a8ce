// io/ring.cpp — ring set-up (single issuer, deferred task work, created disabled and
// enabled by its thread), the turn and the ticker.
#include "io/ring.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>

namespace ringmail::io {

std::uint64_t monotonic_ms() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec / 1000000);
}

namespace {

std::string why_no_ring(int err) {
    // ENOSYS: built without io_uring; EPERM: kernel.io_uring_disabled = 2 (or 1 without
    // the io_uring_group), or a seccomp filter as in some containers.
    if (err == ENOSYS) return "io_uring is not available in this kernel (ENOSYS); ringmail needs Linux 6.1 or later";
    if (err == EPERM)
        return "io_uring is disabled for this process (EPERM: sysctl kernel.io_uring_disabled, or a seccomp filter)";
    return std::string("io_uring set-up failed: ") + std::strerror(err);
}

}  // namespace

Ring::Ring(unsigned entries) {
    io_uring_params p{};
    // One thread submits and reaps; completions run only when it asks for them. Created
    // disabled so that the thread calling start() becomes the one issuer.
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
              IORING_SETUP_R_DISABLED;
    int rc = io_uring_queue_init_params(entries, &ring_, &p);
    if (rc == -EINVAL) {  // older kernels: a plain ring
        p = {};
        rc = io_uring_queue_init_params(entries, &ring_, &p);
    }
    if (rc < 0) throw std::runtime_error(why_no_ring(-rc));
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

void Ring::start() {
    if (ring_.flags & IORING_SETUP_R_DISABLED) {
        // liburing 2.3 declares io_uring_enable_rings() but does not export it.
        if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0)
            throw std::runtime_error(std::string("io_uring enable: ") + std::strerror(errno));
    }
    // io_uring_enter then names the ring by its registered index: no file lookup per
    // call. Older kernels refuse it, and the plain descriptor is used.
    registered_ = io_uring_register_ring_fd(&ring_) == 1;
    now_ = monotonic_ms();
}

std::uint8_t Ring::add(Handler& h) {
    if (count_ >= handlers_.size()) throw std::runtime_error("io::Ring: more than 255 handlers");
    handlers_[count_] = &h;
    return static_cast<std::uint8_t>(count_++);
}

io_uring_sqe* Ring::sqe() noexcept {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (!s) {  // the submission queue is full: hand it to the kernel now
        io_uring_submit(&ring_);
        s = io_uring_get_sqe(&ring_);
    }
    return s;
}

// Linux 6.12's IORING_FEAT_MIN_TIMEOUT (liburing 2.3 predates it), and its field of
// io_uring_getevents_arg, which older headers call `pad`.
constexpr unsigned kFeatMinTimeout = 1U << 15;

bool Ring::set_batching(unsigned count, unsigned min_wait_us) noexcept {
    if (count <= 1) {
        batch_count_ = 0;
        return true;
    }
    if (!(ring_.features & kFeatMinTimeout) || !(ring_.features & IORING_FEAT_EXT_ARG)) return false;
    batch_count_ = count;
    batch_wait_us_ = min_wait_us;
    return true;
}

// Submits what is queued and waits as set_batching() says, in one io_uring_enter.
int Ring::enter_batched(const __kernel_timespec* timeout) noexcept {
    io_uring_sq& sq = ring_.sq;
    const unsigned tail = sq.sqe_tail;
    if (sq.sqe_head != tail) {  // publish the new entries (liburing's flush of the SQ ring)
        sq.sqe_head = tail;
        __atomic_store_n(sq.ktail, tail, __ATOMIC_RELEASE);
    }
    const unsigned to_submit = tail - __atomic_load_n(sq.khead, __ATOMIC_ACQUIRE);
    io_uring_getevents_arg arg{};
    arg.pad = batch_wait_us_;  // min_wait_usec
    arg.ts = reinterpret_cast<std::uint64_t>(timeout);
    const unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | (registered_ ? IORING_ENTER_REGISTERED_RING : 0);
    const long rc = ::syscall(__NR_io_uring_enter, registered_ ? ring_.enter_ring_fd : ring_.ring_fd, to_submit,
                              batch_count_, flags, &arg, sizeof arg);
    return rc < 0 ? -errno : static_cast<int>(rc);
}

int Ring::turn(const __kernel_timespec* timeout) noexcept {
    io_uring_cqe* first = nullptr;
    // -ETIME (the time is up) and -EINTR are routine: the caller looks at the clock.
    const int rc = batch_count_ ? enter_batched(timeout)
                                : io_uring_submit_and_wait_timeout(&ring_, &first, 1,
                                                                   const_cast<__kernel_timespec*>(timeout), nullptr);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) return rc;
    now_ = monotonic_ms();
    unsigned head = 0;
    unsigned n = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
        const std::uint64_t ud = cqe->user_data;
        Handler* h = handlers_[ud & 0xff];
        if (h) h->on_completion(*cqe, ud >> 8);
        ++n;
    }
    io_uring_cq_advance(&ring_, n);
    return static_cast<int>(n);
}

Ticker::Ticker(Ring& ring, std::uint64_t period_ms, std::function<void()> fire)
    : ring_(ring), id_(ring.add(*this)), fire_(std::move(fire)) {
    period_.tv_sec = static_cast<long long>(period_ms / 1000);
    period_.tv_nsec = static_cast<long long>(period_ms % 1000) * 1000000;
}

void Ticker::arm() noexcept { io_uring_prep_timeout(ring_.prep(id_, 0), &period_, 0, 0); }

void Ticker::on_completion(const io_uring_cqe&, std::uint64_t) noexcept {
    fire_();
    arm();
}

}  // namespace ringmail::io
