// bench/alloc_count.cpp — heap allocations per message of the running server in steady
// state (issue 17: none with the discard handler). Starts the real `ringmail` binary with
// bench/alloc_shim (a counting operator new) preloaded, drives it over loopback with
// blocking sockets, warms it up, then reads the server's count (a file both map) before and
// after a window of messages on connections already open. Prints the figure; asserts nothing.
//
//   build/bench/alloc_count [messages] [connections] [pipelined 0|1] [handler] [mime]
//   defaults: 20000 4 0 discard auto; RINGMAIL=path picks another ringmail binary.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>


namespace {

[[noreturn]] void die(const char* what) {
    std::perror(what);
    std::exit(2);
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// One blocking client connection; its reply buffer is fixed, so the parent allocates
// nothing per message either (not that it is counted).
struct Client {
    int fd = -1;
    char buf[8192];
    std::size_t have = 0;

    bool open(std::uint16_t port) {
        for (int tries = 0; tries < 200; ++tries) {  // the child may still be starting (<= 10 s)
            fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
                const int one = 1;
                ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                timeval tv{10, 0};
                ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                return replies(1, '2');
            }
            ::close(fd);
            ::usleep(50'000);
        }
        return false;
    }
    bool send_all(const std::string& s) {
        for (std::size_t off = 0; off < s.size();) {
            const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }
    // Reads `n` final reply lines ("ddd " lines); false on a close, a timeout, or a final
    // reply whose first digit is neither `first` nor '3' (DATA's 354).
    bool replies(int n, char first) {
        while (n > 0) {
            char* nl = static_cast<char*>(std::memchr(buf, '\n', have));
            if (!nl) {
                if (have == sizeof buf) return false;
                const ssize_t got = ::recv(fd, buf + have, sizeof buf - have, 0);
                if (got <= 0) return false;
                have += static_cast<std::size_t>(got);
                continue;
            }
            const std::size_t len = static_cast<std::size_t>(nl - buf) + 1;
            if (len >= 4 && buf[3] == ' ') {
                if (buf[0] != first && buf[0] != '3') {
                    std::fprintf(stderr, "alloc_count: unexpected reply: %.*s", static_cast<int>(len), buf);
                    return false;
                }
                --n;
            }
            std::memmove(buf, buf + len, have - len);
            have -= len;
        }
        return true;
    }
};

}  // namespace

int main(int argc, char** argv) {
    const long messages = argc > 1 ? std::atol(argv[1]) : 20000;
    const int connections = argc > 2 ? std::atoi(argv[2]) : 4;
    const bool pipelined = argc > 3 && std::atoi(argv[3]) != 0;
    const std::string handler = argc > 4 ? argv[4] : "discard";
    const std::string mime = argc > 5 ? argv[5] : "auto";
    if (messages <= 0 || connections <= 0 || connections > 1000) {
        std::fprintf(stderr, "usage: alloc_count [messages] [connections] [pipelined 0|1] [handler] [mime]\n");
        return 2;
    }
    // The count: 8 octets of a file the server's shim maps too.
    char count_path[] = "/tmp/ringmail-alloc-count.XXXXXX";
    const int count_fd = ::mkstemp(count_path);
    if (count_fd < 0 || ::ftruncate(count_fd, sizeof(std::uint64_t)) != 0) die("count file");
    auto* count = static_cast<std::atomic<std::uint64_t>*>(
        ::mmap(nullptr, sizeof(std::uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, count_fd, 0));
    ::close(count_fd);
    if (count == MAP_FAILED) die("mmap");
    char work[] = "/tmp/ringmail-alloc-work.XXXXXX";
    if (!::mkdtemp(work)) die("mkdtemp");
    const std::string ringmail = std::getenv("RINGMAIL") ? std::getenv("RINGMAIL") : RINGMAIL_EXE;

    const std::uint16_t port = free_port();
    const pid_t child = ::fork();
    if (child < 0) die("fork");
    if (child == 0) {
        ::alarm(600);  // bounded, whatever happens to the driver
        // The banner and the log lines go nowhere (their writes still happen; their
        // allocations are counted).
        if (const int null = ::open("/dev/null", O_WRONLY); null >= 0) {
            ::dup2(null, STDOUT_FILENO);
            ::dup2(null, STDERR_FILENO);
            ::close(null);
        }
        ::setenv("LD_PRELOAD", RINGMAIL_ALLOC_SHIM, 1);
        ::setenv("RINGMAIL_ALLOC_COUNT", count_path, 1);
        const std::string config = std::string(work) + "/mail.ini";
        const std::string port_s = std::to_string(port), handler_s = "handler=" + handler, mime_s = "mime=" + mime;
        ::execl(ringmail.c_str(), "ringmail", "serve", "--config", config.c_str(), "--init", "--port", port_s.c_str(),
                "--set", handler_s.c_str(), "--set", mime_s.c_str(), "--set", "hostname=bench.local", "--set",
                "http.listen=", static_cast<char*>(nullptr));
        std::_Exit(127);
    }

    const std::string body =
        "From: a@example.org\r\nTo: b@example.net\r\nSubject: allocation count\r\nMessage-ID: <x@example.org>\r\n\r\n" +
        [] {
            std::string s;
            while (s.size() < 1024) s += "The quick brown fox jumps over the lazy dog, again and again.\r\n";
            return s;
        }() + ".\r\n";
    const std::string envelope = "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n";
    const std::string whole = envelope + body;

    std::vector<Client> clients(static_cast<std::size_t>(connections));
    int rc = 0;
    auto one = [&](Client& cl) {
        if (pipelined) return cl.send_all(whole) && cl.replies(4, '2');
        return cl.send_all("MAIL FROM:<a@example.org>\r\n") && cl.replies(1, '2') &&
               cl.send_all("RCPT TO:<b@example.net>\r\n") && cl.replies(1, '2') && cl.send_all("DATA\r\n") &&
               cl.replies(1, '3') && cl.send_all(body) && cl.replies(1, '2');
    };
    auto run = [&](long n) {
        for (long i = 0; i < n; ++i)
            if (!one(clients[static_cast<std::size_t>(i % connections)])) return false;
        return true;
    };
    bool ok = true;
    for (auto& cl : clients) ok = ok && cl.open(port) && cl.send_all("EHLO bench.client\r\n") && cl.replies(1, '2');
    const long warm = std::max<long>(1000, messages / 10);
    ok = ok && run(warm);
    const std::uint64_t before = count->load();
    ok = ok && run(messages);
    const std::uint64_t after = count->load();
    if (!ok) {
        std::fprintf(stderr, "alloc_count: the run failed\n");
        rc = 1;
    } else {
        std::printf("alloc_count: handler %s, mime %s, %d connections, %s: %llu allocations over %ld messages "
                    "= %.3f per message (after %ld to warm up)\n",
                    handler.c_str(), mime.c_str(), connections, pipelined ? "pipelined" : "lock-step",
                    static_cast<unsigned long long>(after - before), messages,
                    static_cast<double>(after - before) / static_cast<double>(messages), warm);
    }
    for (auto& cl : clients) ::close(cl.fd);
    ::kill(child, SIGTERM);
    int status = 0;
    ::waitpid(child, &status, 0);
    ::unlink(count_path);
    const std::string cleanup = std::string(work) + "/mail.ini";
    ::unlink(cleanup.c_str());
    ::rmdir(work);
    if (count->load() == 0) {
        std::fprintf(stderr, "alloc_count: the server counted nothing (was %s preloaded?)\n", RINGMAIL_ALLOC_SHIM);
        rc = 1;
    }
    return rc;
}
