// io/fd_poll.cpp — multishot POLL_ADD on one descriptor; POLL_REMOVE to cancel.
#include "io/fd_poll.hpp"

#include <poll.h>

namespace ringmail::io {

FdPoll::FdPoll(Ring& ring, int fd, std::function<void()> ready)
    : ring_(ring), fd_(fd), ready_(std::move(ready)), id_(ring.add(*this)) {}

void FdPoll::arm() noexcept {
    if (armed_ || cancelled_) return;
    io_uring_prep_poll_multishot(ring_.prep(id_, 0), fd_, POLLIN);
    armed_ = true;
}

void FdPoll::cancel() noexcept {
    cancelled_ = true;
    if (armed_) io_uring_prep_poll_remove(ring_.prep_ignored(), Ring::user_data(id_, 0));
}

void FdPoll::on_completion(const io_uring_cqe& cqe, std::uint64_t) noexcept {
    if (!(cqe.flags & IORING_CQE_F_MORE)) armed_ = false;  // the kernel ended the multishot
    if (cancelled_) return;
    ready_();
    if (cqe.res >= 0) arm();
}

}  // namespace ringmail::io
