// relay/dns_poll.cpp — multishot POLL_ADD on the resolver's pipe; each readiness runs
// Resolver::process() with the ring's clock of that turn.
#include "relay/dns_poll.hpp"

#include <poll.h>

namespace ringmail::relay {

DnsPoll::DnsPoll(io::Ring& ring, Resolver& resolver) : ring_(ring), resolver_(resolver), id_(ring.add(*this)) {}

void DnsPoll::arm() noexcept {
    if (armed_ || cancelled_) return;
    io_uring_prep_poll_multishot(ring_.prep(id_, 0), resolver_.fd(), POLLIN);
    armed_ = true;
}

void DnsPoll::cancel() noexcept {
    cancelled_ = true;
    if (armed_) io_uring_prep_poll_remove(ring_.prep_ignored(), io::Ring::user_data(id_, 0));
}

void DnsPoll::on_completion(const io_uring_cqe& cqe, std::uint64_t) noexcept {
    if (!(cqe.flags & IORING_CQE_F_MORE)) armed_ = false;  // the kernel ended the multishot
    if (cancelled_) return;
    // process() reads the pipe until it is empty, so one call per readiness is enough.
    resolver_.process(ring_.now_ms());
    // An error (the pipe gone) would fail again at once: re-arming would spin.
    if (cqe.res >= 0) arm();
}

}  // namespace ringmail::relay
