// relay/queue_wake.cpp — the wake FIFO: a multishot poll on it; each readiness drains the
// bytes written (any number of pokes is one wake) and calls the engine back.
#include "relay/queue_wake.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ringmail::relay {
namespace {

std::string wake_path(const std::string& queue_dir) { return queue_dir + "/wake"; }

}  // namespace

QueueWake::QueueWake(io::Ring& ring, const std::string& queue_dir, std::function<void()> woken)
    : ring_(ring), woken_(std::move(woken)), id_(ring.add(*this)) {
    const std::string path = wake_path(queue_dir);
    if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST)
        throw std::runtime_error(path + ": " + std::strerror(errno));
    // O_RDWR: a FIFO with a writer of our own never reads as closed when pokers leave.
    fd_ = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd_, &st) != 0 || !S_ISFIFO(st.st_mode)) {
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error(path + ": not a FIFO");
    }
}

QueueWake::~QueueWake() {
    if (fd_ >= 0) ::close(fd_);
}

void QueueWake::arm() noexcept {
    if (armed_ || cancelled_) return;
    io_uring_prep_poll_multishot(ring_.prep(id_, 0), fd_, POLLIN);
    armed_ = true;
}

void QueueWake::cancel() noexcept {
    cancelled_ = true;
    if (armed_) io_uring_prep_poll_remove(ring_.prep_ignored(), io::Ring::user_data(id_, 0));
}

void QueueWake::on_completion(const io_uring_cqe& cqe, std::uint64_t) noexcept {
    if (!(cqe.flags & IORING_CQE_F_MORE)) armed_ = false;
    if (cancelled_) return;
    char buf[256];
    while (::read(fd_, buf, sizeof buf) > 0) {
    }
    woken_();
    if (cqe.res >= 0) arm();  // an error would fail again at once: re-arming would spin
}

void QueueWake::poke(const std::string& queue_dir) noexcept {
    // O_NONBLOCK: ENXIO at once when no engine holds it open for reading.
    const int fd = ::open(wake_path(queue_dir).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st{};
    if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
        const char b = 1;
        (void)!::write(fd, &b, 1);  // a full pipe already wakes it
    }
    ::close(fd);
}

}  // namespace ringmail::relay
