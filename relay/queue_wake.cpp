// relay/queue_wake.cpp — the wake FIFO: an io::FdPoll on it; each readiness drains the
// bytes written (any number of pokes is one wake) and calls the engine back.
#include "relay/queue_wake.hpp"

#include <fcntl.h>
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
    : fifo_{open_fifo(queue_dir)}, woken_(std::move(woken)), poll_(ring, fifo_.fd, [this] { drain(); }) {}

QueueWake::Fifo::~Fifo() {
    if (fd >= 0) ::close(fd);
}

int QueueWake::open_fifo(const std::string& queue_dir) {
    const std::string path = wake_path(queue_dir);
    if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST)
        throw std::runtime_error(path + ": " + std::strerror(errno));
    // O_RDWR: a FIFO with a writer of our own never reads as closed when pokers leave.
    const int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
        ::close(fd);
        throw std::runtime_error(path + ": not a FIFO");
    }
    return fd;
}

// Any number of pokes since the last readiness is one wake.
void QueueWake::drain() noexcept {
    char buf[256];
    while (::read(fifo_.fd, buf, sizeof buf) > 0) {
    }
    woken_();
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
