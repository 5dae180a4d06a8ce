// bench/floor/main.cpp — ringmail-floor: a null SMTP server on io_uring, the floor that
// bench/compare_peers.sh measures ringmail against. One thread and ring per core, each with
// its own SO_REUSEPORT listener on the same port; SIGTERM or SIGINT ends it with status 0.
//   ringmail-floor --listen 127.0.0.1:PORT [--threads N]   (PORT 0: prints the port chosen)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/floor/worker.hpp"

namespace {

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "ringmail-floor: %s\nusage: ringmail-floor --listen ADDR:PORT [--threads N]\n", why);
    std::exit(2);
}

// A listening socket with SO_REUSEPORT (every thread binds its own to the same port: the
// kernel spreads new connections over them) and TCP_NODELAY, as ringmail's io/listener.
int listen_on(const sockaddr_in& addr) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4096) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

unsigned cores() {
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return unsigned(CPU_COUNT(&set));
    return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

int main(int argc, char** argv) {
    std::string listen;
    unsigned threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") usage("a null SMTP server (replies only, stores nothing)");
        if (i + 1 >= argc) usage(("missing value after " + a).c_str());
        if (a == "--listen") listen = argv[++i];
        else if (a == "--threads") threads = unsigned(std::strtoul(argv[++i], nullptr, 10));
        else usage(("unknown option " + a).c_str());
    }
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) usage("--listen ADDR:PORT is required");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) != 1) usage("bad IPv4 address");
    const unsigned long port = std::strtoul(listen.c_str() + colon + 1, nullptr, 10);
    if (port > 65535) usage("bad port");
    addr.sin_port = htons(std::uint16_t(port));
    if (threads == 0) threads = cores();
    if (threads > 1024) usage("--threads: at most 1024");

    // SIGTERM and SIGINT wait for sigwait() below; threads started after this inherit the mask.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    // The first bind picks the port when it is 0; the others join it.
    std::vector<int> fds, wakes;
    for (unsigned i = 0; i < threads; ++i) {
        const int fd = listen_on(addr);
        if (fd < 0) {
            std::fprintf(stderr, "ringmail-floor: listen on %s: %s\n", listen.c_str(), std::strerror(errno));
            return 1;
        }
        if (i == 0) {
            socklen_t len = sizeof addr;
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        }
        fds.push_back(fd);
        const int w = ::eventfd(0, EFD_CLOEXEC);
        if (w < 0) {
            std::perror("ringmail-floor: eventfd");
            return 1;
        }
        wakes.push_back(w);
    }

    std::atomic<int> failed{0};
    std::latch ready(threads);
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i) {
        pool.emplace_back([&, i] {
            auto w = std::make_unique<ringmail::floor::Worker>(fds[i], wakes[i]);
            int rc = w->setup();
            if (rc < 0) failed.store(rc);
            ready.count_down();
            if (rc == 0) rc = w->run();
            if (rc < 0) {
                std::fprintf(stderr, "ringmail-floor: io_uring: %s\n", std::strerror(-rc));
                failed.store(rc);
                ::kill(::getpid(), SIGTERM);  // main's sigwait ends the others
            }
        });
    }
    ready.wait();
    if (failed.load() == 0) {
        char ip[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
        std::printf("listening on %s:%u\n", ip, unsigned(ntohs(addr.sin_port)));
        std::fflush(stdout);
        int sig = 0;
        sigwait(&sigs, &sig);
    }
    const std::uint64_t one = 1;
    for (int w : wakes) {
        [[maybe_unused]] const ssize_t n = ::write(w, &one, sizeof one);
    }
    for (std::thread& t : pool) t.join();
    for (int fd : fds) ::close(fd);
    for (int w : wakes) ::close(w);
    return failed.load() == 0 ? 0 : 1;
}
