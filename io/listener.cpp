// io/listener.cpp — socket(), SO_REUSEPORT, bind(), listen(); IPv6 dual-stack when not
// local, IPv4 loopback when local.
#include "io/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ringmail::io {

namespace {

int bind_one(bool local, std::uint16_t port, bool reuse_port) {
    // Non-blocking: the ring polls it anyway, and the spare-descriptor accept of Acceptor
    // must not wait when another accept took the connection first.
    const int fd = ::socket(local ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    const int zero = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    // Accepted sockets inherit it: the reactor coalesces replies itself, and saves one
    // setsockopt per connection.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc;
    if (local) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        a.sin6_addr = in6addr_any;
        rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) {
        const int err = errno;
        ::close(fd);
        throw std::runtime_error("cannot listen on port " + std::to_string(port) + ": " + std::strerror(err));
    }
    return fd;
}

}  // namespace

std::vector<int> open_listeners(bool local, std::uint16_t& port, unsigned count) {
    // SO_REUSEPORT would let us share a port with another server of the same user and
    // split its traffic; a probe without it makes a busy port an error instead.
    if (port != 0) ::close(bind_one(local, port, false));
    std::vector<int> fds;
    try {
        for (unsigned i = 0; i < count; ++i) {
            const int fd = bind_one(local, port, true);
            fds.push_back(fd);
            if (port == 0) {  // the first socket picked a free port; the others share it
                sockaddr_storage ss{};
                socklen_t len = sizeof ss;
                ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
                port = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                                     : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
            }
            if (::listen(fd, 4096) != 0)
                throw std::runtime_error("cannot listen on port " + std::to_string(port) + ": " + std::strerror(errno));
        }
    } catch (...) {
        for (int fd : fds) ::close(fd);
        throw;
    }
    return fds;
}

namespace {

constexpr std::uint64_t kAccept = 0, kResume = 1;
// Out of descriptors, accepting waits this long before it tries again (no spinning).
constexpr long long kPauseNs = 100'000'000;

int open_spare() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

Acceptor::Acceptor(Ring& ring, int listen_fd, AcceptSink& sink, unsigned listener) noexcept
    : ring_(ring), id_(ring.add(*this)), fd_(listen_fd), spare_(open_spare()), sink_(sink), listener_(listener) {}

Acceptor::~Acceptor() {
    if (fd_ >= 0) ::close(fd_);
    if (spare_ >= 0) ::close(spare_);
}

void Acceptor::arm() noexcept {
    if (fd_ < 0) return;
    io_uring_prep_multishot_accept(ring_.prep(id_, kAccept), fd_, nullptr, nullptr, SOCK_CLOEXEC);
    armed_ = true;
}

void Acceptor::stop() noexcept {
    if (armed_) io_uring_prep_cancel64(ring_.prep_ignored(), Ring::user_data(id_, kAccept), 0);
    // The accept request in flight holds its own reference until the cancel completes it.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void Acceptor::on_completion(const io_uring_cqe& cqe, std::uint64_t payload) noexcept {
    if (payload == kResume) {  // the pause after EMFILE is over
        pausing_ = false;
        if (!armed_) arm();
        return;
    }
    if (cqe.res == -EMFILE || cqe.res == -ENFILE) {
        out_of_descriptors(cqe.res);
        if (!(cqe.flags & IORING_CQE_F_MORE)) armed_ = false;
        return;
    }
    if (!(cqe.flags & IORING_CQE_F_MORE)) {
        armed_ = false;
        if (!pausing_) arm();  // not after stop(): the socket is closed
    }
    if (cqe.res >= 0) sink_.on_accepted(cqe.res, listener_);
    else if (cqe.res != -ECANCELED) std::fprintf(stderr, "ringmail: accept: %s\n", std::strerror(-cqe.res));
}

// EMFILE/ENFILE: the connection waits in the backlog and every retry fails at once, so
// re-arming straight away spins a core and floods the log. Instead: give the waiting
// client the spare descriptor, so that the owner can answer it (421) and close it; then
// accept nothing for kPauseNs; log at most once a second.
void Acceptor::out_of_descriptors(int res) noexcept {
    const std::uint64_t now = ring_.now_ms();
    if (now >= next_log_ms_) {
        std::fprintf(stderr, "ringmail: accept: %s: refusing new clients until descriptors free up\n",
                     std::strerror(-res));
        next_log_ms_ = now + 1000;
    }
    if (spare_ >= 0 && fd_ >= 0) {
        ::close(spare_);
        const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) sink_.on_refused(fd, listener_);  // the owner answers and closes it
        spare_ = open_spare();
    }
    if (pausing_ || fd_ < 0) return;
    pausing_ = true;
    pause_.tv_sec = 0;
    pause_.tv_nsec = kPauseNs;
    io_uring_prep_timeout(ring_.prep(id_, kResume), &pause_, 0, 0);
}

}  // namespace ringmail::io
